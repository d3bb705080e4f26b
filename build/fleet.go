package build

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/lambda-oci/lambda-oci/publish"
)

// The fleet builder lives in package build rather than its own package
// because what makes it worth having — one base fetch, one measurement,
// one download and one conversion for many functions — happens inside
// Build; a separate package would need those steps exported as hooks.

// Target is one function of a fleet: what to build and where it goes.
type Target struct {
	// Name identifies the function in events, errors and results.
	Name      string
	Spec      Spec
	Publisher publish.Publisher
	// CacheFrom, when not nil, replaces Options.CacheFrom for this target
	// (nil: the options', by default the publisher's tags).
	CacheFrom []string
}

// FleetOptions are how to build a fleet.
type FleetOptions struct {
	// Options apply to every target's Build. Their Events receive the
	// targets' events with the target's name before the message; their
	// Shared is used if set (and then not closed), else one is made for
	// the run.
	Options
	// Jobs bounds how many targets are built and published at once
	// (default: the number of CPUs, at least 4: publishing waits on the
	// network more than on the processor).
	Jobs int
	// FailFast stops the targets not yet finished at the first failure;
	// otherwise every target is attempted.
	FailFast bool
	// Verify, when set, sees each target's built and checked image before
	// it is published; an error fails the target with nothing published
	// (a lock file's --locked).
	Verify func(name string, res *Result) error
}

// TargetResult is what became of one target. Exactly one of Err and
// Result is set.
type TargetResult struct {
	Name        string
	Result      *Result
	Publication *publish.Publication
	Err         error
}

// FleetError is returned by PublishFleet when any target failed.
type FleetError struct {
	// Failed are the failed targets' results, in target order.
	Failed []TargetResult
	// Total is the number of targets.
	Total int
}

func (e *FleetError) Error() string {
	if len(e.Failed) == 1 {
		return fmt.Sprintf("%d of %d functions failed: %s: %v", 1, e.Total, e.Failed[0].Name, e.Failed[0].Err)
	}
	msg := fmt.Sprintf("%d of %d functions failed:", len(e.Failed), e.Total)
	for _, f := range e.Failed {
		msg += fmt.Sprintf("\n  %s: %v", f.Name, f.Err)
	}
	return msg
}

// Unwrap gives the targets' errors, for errors.Is and errors.As.
func (e *FleetError) Unwrap() []error {
	errs := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		errs[i] = f.Err
	}
	return errs
}

// ErrStopped is the error of a target stopped or skipped because another
// failed first (FailFast).
var ErrStopped = errors.New("stopped: another function failed")

// PublishFleet builds and publishes every target, Jobs at a time, sharing
// bases, measurements, layer versions and conversions between them. A
// failing target does not stop the others unless FailFast is set. The
// results are in target order; the error is a *FleetError naming each
// failed target, or nil when all succeeded. Every target's destination is
// checked before anything is built.
func PublishFleet(ctx context.Context, targets []Target, opts FleetOptions) ([]TargetResult, error) {
	results := make([]TargetResult, len(targets))
	seen := map[string]bool{}
	for i, t := range targets {
		results[i].Name = t.Name
		if seen[t.Name] {
			return nil, fmt.Errorf("build: function %q given twice", t.Name)
		}
		seen[t.Name] = true
	}
	shared := opts.Shared
	if shared == nil {
		shared = NewShared()
		defer shared.Close()
	}
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = max(4, runtime.NumCPU())
	}

	// Destinations first: a typo in one output path should not cost a
	// fleet's worth of conversions before it is reported.
	for i, t := range targets {
		if err := t.Publisher.Check(SpecInputs(t.Spec)); err != nil {
			results[i].Err = err
		}
	}
	if opts.FailFast {
		for _, r := range results {
			if r.Err != nil {
				for i := range results {
					if results[i].Err == nil {
						results[i].Err = ErrStopped
					}
				}
				return finish(results)
			}
		}
	}

	// A fail-fast group cancels its context at the first error; a
	// keep-going one never returns an error, so it never does.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for i, t := range targets {
		if results[i].Err != nil {
			continue
		}
		g.Go(func() error {
			if gctx.Err() != nil {
				results[i].Err = ErrStopped
				if ctx.Err() != nil {
					results[i].Err = ctx.Err()
				}
				return nil
			}
			o := opts.Options
			o.Shared = shared
			if t.CacheFrom != nil {
				o.CacheFrom = t.CacheFrom
			}
			if events := opts.Events; events != nil {
				o.Events = func(e Event) {
					e.Message = t.Name + ": " + e.Message
					events(e)
				}
			}
			var verify func(*Result) error
			if opts.Verify != nil {
				verify = func(r *Result) error { return opts.Verify(t.Name, r) }
			}
			res, pub, err := publishVerified(gctx, t.Spec, t.Publisher, o, verify)
			if err != nil {
				if opts.FailFast && errors.Is(err, context.Canceled) && ctx.Err() == nil {
					err = ErrStopped
				}
				results[i].Err = err
				if opts.FailFast {
					return err
				}
				return nil
			}
			results[i].Result, results[i].Publication = res, pub
			return nil
		})
	}
	_ = g.Wait()
	return finish(results)
}

func finish(results []TargetResult) ([]TargetResult, error) {
	fe := &FleetError{Total: len(results)}
	for _, r := range results {
		if r.Err != nil {
			fe.Failed = append(fe.Failed, r)
		}
	}
	if len(fe.Failed) > 0 {
		return results, fe
	}
	return results, nil
}
