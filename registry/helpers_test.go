package registry

import (
	"fmt"
	"io"
	"log"

	"github.com/google/go-containerregistry/pkg/authn"
)

type staticKeychain struct{ a authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.a, nil }

func basicAuth(user, pass string) authn.Authenticator {
	return &authn.Basic{Username: user, Password: pass}
}

func sprintf(f string, a ...any) string { return fmt.Sprintf(f, a...) }

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
