package config

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/lambda-oci/lambda-oci/lambdaapi"
)

// "update --layers" moves the lock, not lambda-oci.yaml: the file says
// which layer version a function was written against and is the user's
// (comments, layout, ARNs perhaps shared by hand between files); the lock
// is the machine's record of what is built. A moved layer is recorded as
// {source: the new version ARN, requested: the file's ARN}, and every
// build -f (with or without --locked) builds the lock's version for as
// long as the file still names the requested one. Editing the ARN in the
// file (up or down) is a deliberate choice and wins: the pin no longer
// applies, --locked refuses the difference, and the next build -f records
// the file's version.

// Pin returns fn as build -f builds it under the lock: each layer version
// ARN that update --layers moved is replaced by the version the lock holds,
// as long as the file still names the version the lock moved from. notes
// names each replacement ("layer A pinned at B by lambda-oci.lock").
func (l *Lock) Pin(fn Function) (pinned Function, notes []string) {
	lf, ok := l.Functions[fn.Name]
	if !ok {
		return fn, nil
	}
	layers := slices.Clone(fn.Spec.Layers)
	for i := range layers {
		if i >= len(lf.Layers) {
			break
		}
		in := lf.Layers[i]
		if in.Requested == "" || in.Requested != layers[i].Path || !lambdaapi.IsLayerARN(in.Source) {
			continue
		}
		layers[i].Path = in.Source
		notes = append(notes, fmt.Sprintf("layer %s pinned at %s by %s", in.Requested, in.Source, LockName))
	}
	fn.Spec.Layers = layers
	return fn, notes
}

// LayerMove is one layer version ARN update --layers moved.
type LayerMove struct {
	Function string
	// From and To are layer version ARNs.
	From, To string
}

func (m LayerMove) String() string {
	return fmt.Sprintf("%s: layer %s -> %s", m.Function, m.From, m.To)
}

// UpdateLayers moves every layer version ARN the lock holds for fns to the
// newest version of its layer (lambdaapi.LatestLayerVersion: each layer is
// listed once), recording the new version's CodeSha256 and the file's ARN
// as Requested; nothing is downloaded or converted, so the layer digest is
// left for the next build to record. A layer is moved only forward, and
// only where the lock's entry is for the ARN the file names (a file edited
// since the last build is the next build's to record). Functions not in the
// lock are skipped. Moves are in file order.
//
// A layer whose versions the caller may not list (lambdaapi.ErrAccessDenied)
// stays where it is and is returned in denied, and the others still move:
// a layer shared by another account can only grant lambda:GetLayerVersion,
// so listing it is refused, and one such layer must not stop the update of
// the rest. Any other failure is err.
func (l *Lock) UpdateLayers(ctx context.Context, fns []Function, opts lambdaapi.Options) (moves []LayerMove, denied []error, err error) {
	type latest struct {
		v   lambdaapi.LayerVersion
		err error
	}
	newest := map[string]latest{}
	for _, fn := range fns {
		lf, ok := l.Functions[fn.Name]
		if !ok {
			continue
		}
		lf.Layers = slices.Clone(lf.Layers)
		for i, in := range lf.Layers {
			if i >= len(fn.Spec.Layers) {
				break
			}
			file := fn.Spec.Layers[i].Path
			if !lambdaapi.IsLayerARN(file) || (in.Source != file && in.Requested != file) {
				continue
			}
			cur, err := lambdaapi.ParseLayerARN(in.Source)
			if err != nil {
				continue
			}
			key := cur.LayerARN()
			n, seen := newest[key]
			if !seen {
				n.v, n.err = lambdaapi.LatestLayerVersion(ctx, in.Source, opts)
				newest[key] = n
			}
			if errors.Is(n.err, lambdaapi.ErrAccessDenied) {
				denied = append(denied, fmt.Errorf("function %s: layer %s: %w", fn.Name, in.Source, n.err))
				continue
			}
			if n.err != nil {
				return moves, denied, fmt.Errorf("function %s: layer %s: %w", fn.Name, in.Source, n.err)
			}
			if n.v.Version <= cur.Version {
				continue
			}
			next := LockedInput{Source: n.v.ARN, CodeSha256: n.v.CodeSha256}
			if file != n.v.ARN {
				next.Requested = file
			}
			lf.Layers[i] = next
			moves = append(moves, LayerMove{Function: fn.Name, From: in.Source, To: n.v.ARN})
		}
		l.Functions[fn.Name] = lf
	}
	return moves, denied, nil
}
