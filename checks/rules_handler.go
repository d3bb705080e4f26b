package checks

import (
	"errors"
	"fmt"

	"github.com/lambda-oci/lambda-oci/lambda"
)

// handlerEnv are the image variables that change where runtimes look for
// the handler.
var handlerEnv = []string{"NODE_PATH", "PYTHONPATH", "LAMBDA_DOTNET_MAIN_ASSEMBLY"}

// handler: the runtime would find the handler. lambda.ResolveHandler
// replays the lookup the family's runtime performs over the merged view;
// a refusal carries where the runtime looked, what was found nearby and
// the runtime's own error name. A lookup that depended on something not
// recorded (a jar too large to read) is a warning, never a refusal.
func handler(c *check) []Finding {
	if c.cfg.Handler == "" {
		return nil
	}
	fam, ver := c.family()
	res, err := lambda.ResolveHandler(c.view, c.handlerInput(fam, ver))
	var herr *lambda.HandlerError
	if errors.As(err, &herr) {
		f := Finding{Rule: RuleHandler, Severity: Refuse, LambdaError: herr.LambdaError, Path: herr.Path, Err: herr, Message: herr.Error()}
		if fam == lambda.Provided {
			f.Hint = "ship an executable named bootstrap in the code or a layer"
		}
		return []Finding{f}
	}
	if err != nil {
		return []Finding{{Rule: RuleHandler, Severity: Refuse, Err: err, Message: err.Error()}}
	}
	var out []Finding
	for _, w := range res.Warnings {
		out = append(out, Finding{Rule: RuleHandler, Severity: Warn, Path: res.Found,
			Message: fmt.Sprintf("handler %q (%s): %s", c.cfg.Handler, fam, w)})
	}
	return out
}

// handlerInput is what the handler lookup needs besides the files.
func (c *check) handlerInput(fam lambda.Family, ver string) lambda.HandlerInput {
	in := lambda.HandlerInput{Family: fam, Version: ver, TaskRoot: c.taskRoot, Handler: c.cfg.Handler, Arch: c.cfg.Arch, Env: map[string]string{}}
	if c.img.Config != nil {
		for _, k := range handlerEnv {
			if v := EnvValue(c.img.Config.Config.Env, k); v != "" {
				in.Env[k] = v
			}
		}
	}
	return in
}
