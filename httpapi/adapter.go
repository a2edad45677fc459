package httpapi

import (
	"net/http"

	"github.com/steelengine/steelengine/auth"
)

// reply is what a management handler answers on success.
type reply struct {
	Status int
	Body   any
}

// secret is a reply body that shows a key's plaintext: the answer is kept out of
// caches.
type secret struct{ body any }

// mgmt folds what every management handler repeats: resolve the principal (key or
// session with CSRF), decode the JSON body into B, run the use case, write its answer
// or its error in the one error shape. Handlers without a body use struct{}.
func mgmt[B any](a *API, fn func(r *http.Request, p *auth.Principal, body *B) (reply, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.principal(w, r)
		if !ok {
			return
		}
		body := new(B)
		if err := mgmtDecode(r, body); err != nil {
			writeError(w, r, err)
			return
		}
		out, err := fn(r, p, body)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if s, ok := out.Body.(secret); ok {
			w.Header().Set("Cache-Control", "no-store")
			out.Body = s.body
		}
		writeJSON(w, out.Status, out.Body)
	}
}

// answer is the reply of a use case that returned err: status with body when it
// succeeded. body may be built from results that are meaningless on error; it is
// dropped then.
func answer(status int, body any, err error) (reply, error) {
	if err != nil {
		return reply{}, err
	}
	return reply{status, body}, nil
}

// success is the body of an action that has nothing else to say.
var success = map[string]any{"success": true}
