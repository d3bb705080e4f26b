package config

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

const schemaURL = "https://github.com/lambda-oci/lambda-oci/config/lambda-oci.schema.json"

// compiled is the schema, compiled once: it is embedded and never changes.
var compiled = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, err
	}
	return c.Compile(schemaURL)
})

// validate checks the document against the schema and returns every
// problem with the line of the YAML node it is about.
func validate(root *yaml.Node) []Problem {
	sch, err := compiled()
	if err != nil {
		// The embedded schema is tested; this is a build defect.
		return []Problem{{Line: 1, Msg: fmt.Sprintf("schema: %v", err)}}
	}
	inst, probs := toJSON(root, nil)
	if len(probs) > 0 {
		return probs
	}
	err = sch.Validate(inst)
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return []Problem{{Line: root.Line, Msg: err.Error()}}
	}
	p := message.NewPrinter(language.English)
	seen := map[string]bool{}
	var out []Problem
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		pr := problem(root, e, p)
		if k := pr.String(); !seen[k] {
			seen[k] = true
			out = append(out, pr)
		}
	}
	walk(ve)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// problem words one schema error, at the line of the node it is about.
func problem(root *yaml.Node, e *jsonschema.ValidationError, p *message.Printer) Problem {
	key, val := find(root, e.InstanceLocation)
	line := val.Line
	if key != nil {
		line = key.Line
	}
	pr := Problem{Line: line, Path: strings.Join(e.InstanceLocation, ".")}
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		// Point at the first unknown key itself.
		pr.Msg = fmt.Sprintf("unknown key %s", quoteAll(k.Properties))
		if kn, _ := find(root, append(append([]string{}, e.InstanceLocation...), k.Properties[0])); kn != nil {
			pr.Line = kn.Line
		}
	case *kind.Required:
		pr.Msg = fmt.Sprintf("missing %s", quoteAll(k.Missing))
	case *kind.Type:
		pr.Msg = fmt.Sprintf("want %s, got %s", strings.Join(k.Want, " or "), k.Got)
	case *kind.Pattern:
		pr.Msg = fmt.Sprintf("%q does not match %s", k.Got, k.Want)
	default:
		pr.Msg = e.ErrorKind.LocalizedString(p)
	}
	return pr
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// find returns the node at a JSON instance location, and its key node
// when it is a mapping value.
func find(root *yaml.Node, loc []string) (key, val *yaml.Node) {
	val = root
	for _, tok := range loc {
		val = deref(val)
		switch val.Kind {
		case yaml.MappingNode:
			found := false
			for i := 0; i+1 < len(val.Content); i += 2 {
				if val.Content[i].Value == tok {
					key, val, found = val.Content[i], val.Content[i+1], true
					break
				}
			}
			if !found {
				return key, val
			}
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(val.Content) {
				return key, val
			}
			key, val = nil, val.Content[i]
		default:
			return key, val
		}
	}
	return key, val
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return n.Content[0]
	}
	return n
}

// toJSON turns a YAML node into the values the validator takes, refusing
// what JSON cannot say (non-string keys, duplicate keys) at its line.
func toJSON(n *yaml.Node, path []string) (any, []Problem) {
	n = deref(n)
	at := strings.Join(path, ".")
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		var probs []Problem
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := deref(n.Content[i])
			if k.Kind != yaml.ScalarNode || (k.Tag != "!!str" && k.Tag != "!!int" && k.Tag != "!!float" && k.Tag != "!!bool") {
				probs = append(probs, Problem{Line: k.Line, Path: at, Msg: "keys must be plain strings"})
				continue
			}
			if _, dup := m[k.Value]; dup {
				probs = append(probs, Problem{Line: k.Line, Path: at, Msg: fmt.Sprintf("key %q given twice", k.Value)})
				continue
			}
			v, ps := toJSON(n.Content[i+1], append(path, k.Value))
			probs = append(probs, ps...)
			m[k.Value] = v
		}
		return m, probs
	case yaml.SequenceNode:
		a := make([]any, 0, len(n.Content))
		var probs []Problem
		for i, c := range n.Content {
			v, ps := toJSON(c, append(path, strconv.Itoa(i)))
			probs = append(probs, ps...)
			a = append(a, v)
		}
		return a, probs
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, []Problem{{Line: n.Line, Path: at, Msg: err.Error()}}
			}
			return b, nil
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil {
				return nil, []Problem{{Line: n.Line, Path: at, Msg: err.Error()}}
			}
			return i, nil
		case "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				return nil, []Problem{{Line: n.Line, Path: at, Msg: err.Error()}}
			}
			return f, nil
		default:
			return n.Value, nil
		}
	}
	return nil, []Problem{{Line: n.Line, Path: at, Msg: "unsupported YAML value"}}
}
