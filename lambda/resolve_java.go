package lambda

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// The Java lookup follows aws/aws-lambda-java-libs,
// aws-lambda-java-runtime-interface-client (commit c4dcbab, 2026-04):
//
//   - HandlerInfo.fromString: the class name is what precedes the last
//     "::" (the whole handler without one); an empty class, or an empty
//     method after "::", is an invalid handler.
//   - AWSLambda.getLambdaRequestHandlerObject loads it with Class.forName
//     through a CustomerClassLoader whose URLs are, in order, the task
//     root (the working directory) as a class directory, then every
//     "*.jar" directly in <task root>/lib, then every "*.jar" directly in
//     /opt/java/lib, each list sorted by name; its parent is the system
//     class loader (the runtime's own classes). A class that is not found
//     is java.lang.ClassNotFoundException at init.
//
// A jar's classes come from the facts recorded while its layer was read
// (its central directory). A jar without recorded classes (above
// MaxJarFacts, unreadable, or under another task root) cannot be ruled
// out: the handler is then accepted with a warning. Class-Path entries of
// jar manifests, which URLClassLoader also follows, are not read.

func resolveJava(fsys FS, in HandlerInput) (*Resolution, error) {
	class, method, hasMethod := cutLast(in.Handler, "::")
	if class == "" || hasMethod && method == "" {
		return nil, in.herr("", `invalid handler: expected PACKAGE.CLASS::METHOD or PACKAGE.CLASS`)
	}
	entry := strings.ReplaceAll(class, ".", "/")
	var searched, shown []string
	res := &Resolution{}

	classFile := path.Join(in.TaskRoot, entry+".class")
	searched = append(searched, classFile)
	shown = append(shown, classFile)
	if !strings.Contains(class, "/") && isFile(fsys, classFile) {
		return &Resolution{Found: classFile, Loaded: "class file in the task root"}, nil
	}
	var jars []string
	for _, dir := range javaLibDirs(in.TaskRoot) {
		var names []string
		for _, name := range readDir(fsys, dir) {
			if isClassPathJar(dir, name, in.TaskRoot) {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		for _, n := range names {
			jars = append(jars, path.Join(dir, n))
		}
		shown = append(shown, path.Join(dir, "*.jar"))
	}
	var unsure []string
	for _, j := range jars {
		searched = append(searched, j+"!/"+entry+".class")
		real, f := facts(fsys, j)
		if real == "" {
			// A directory or dangling link named *.jar: URLClassLoader
			// cannot open it and goes on.
			continue
		}
		if f == nil || f.Unread != "" || f.Package != nil {
			unsure = append(unsure, fmt.Sprintf("%s (%s)", j, unreadWhy(f)))
			continue
		}
		if _, ok := slices.BinarySearch(f.Classes, entry); ok && !strings.Contains(class, "/") {
			return &Resolution{Found: j, Loaded: "class " + class + " in a jar"}, nil
		}
	}
	if len(unsure) > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("class %s not found in the task root or the jars read, and these jars were not read: %s", class, strings.Join(unsure, ", ")))
		return res, nil
	}
	e := in.herr(ErrClassNotFound, fmt.Sprintf("Class not found: %s", class))
	e.Searched, e.Shown, e.Path = searched, shown, classFile
	e.Nearby = javaNearby(fsys, in, entry, jars)
	return nil, e
}

// javaNearby finds the class under another package, or where the class
// loader does not look (a jar elsewhere, a class tree under a subdirectory).
func javaNearby(fsys FS, in HandlerInput, entry string, jars []string) []string {
	simple := path.Base(entry)
	var out []string
	for _, j := range jars {
		_, f := facts(fsys, j)
		if f == nil {
			continue
		}
		for _, c := range f.Classes {
			if path.Base(c) == simple && len(out) < maxNearby {
				out = append(out, fmt.Sprintf("found class %s in %s: the handler names %s", strings.ReplaceAll(c, "/", "."), j, strings.ReplaceAll(entry, "/", ".")))
			}
		}
	}
	out = append(out, findNearby(fsys, []string{in.TaskRoot, OptDir}, func(p string, f File) string {
		switch {
		case path.Base(p) == simple+".class":
			return fmt.Sprintf("found %s: the class loader reads class files only from the task root tree, by package path (%s)", p, path.Join(in.TaskRoot, entry+".class"))
		case strings.HasSuffix(p, ".jar") && !slices.Contains(jars, p):
			return fmt.Sprintf("found %s: the runtime puts on the class path only jars directly in %s", p, strings.Join(javaLibDirs(in.TaskRoot), " and "))
		}
		return ""
	})...)
	return out[:min(len(out), maxNearby)]
}
