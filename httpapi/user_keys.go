package httpapi

import (
	"net/http"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/store"
)

// Personal API keys of the calling user. Lists show displayKey only; the plaintext key
// appears once, in the create (and rotate) response.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/users/me/api-keys", a.listKeysOf(personalKeys))
		a.handle("POST /api/users/me/api-keys", a.createKeyOf(personalKeys))
		a.handle("DELETE /api/users/me/api-keys/{id}", a.revokeKeyOf(personalKeys))
		a.handle("POST /api/users/me/api-keys/{id}/rotate", a.rotateKeyOf(personalKeys))
	})
}

// personalKeys are the calling user's own keys; {id} names the key.
var personalKeys = keyScope{keyParam: "id", owner: func(_ *http.Request, p *auth.Principal) (store.KeyType, string, error) {
	uid, err := auth.RequireUser(p)
	return store.KeyPersonal, uid, err
}}
