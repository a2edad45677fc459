package embed

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/store"
)

// keyRow is a key as the lists show it: never the secret.
type keyRow struct {
	Key       *store.APIKey
	Display   string
	CreatedBy string
	Narrowing []string // workflow names (workspace keys) or grants as text (org keys)
	Status    string   // "", "expired", "grace", "revoked"
}

// newKey is a key just created or rotated: its plaintext is rendered once, in the
// response to the post that made it, and never again.
type newKey struct {
	Plain string
	Row   keyRow
	Grace *time.Time // the replaced key works until then (rotation)
}

// expiryChoices are the lifetimes the create forms offer.
var expiryChoices = []struct {
	Value, Label string
	D            time.Duration
}{
	{"", "Never", 0},
	{"7d", "7 days", 7 * 24 * time.Hour},
	{"30d", "30 days", 30 * 24 * time.Hour},
	{"90d", "90 days", 90 * 24 * time.Hour},
	{"365d", "1 year", 365 * 24 * time.Hour},
}

// graceChoices are the grace windows a rotation offers.
var graceChoices = []struct {
	Value, Label string
	D            time.Duration
}{
	{"0", "Stop the old key now", 0},
	{"1h", "Old key works 1 more hour", time.Hour},
	{"24h", "Old key works 24 more hours", 24 * time.Hour},
	{"168h", "Old key works 7 more days", 7 * 24 * time.Hour},
}

// keyOptions reads the fields shared by every create form: name, expiry, IP allowlist
// and rate limit.
func keyOptions(r *http.Request, typ store.KeyType) (auth.CreateKeyRequest, error) {
	req := auth.CreateKeyRequest{Type: typ, Name: strings.TrimSpace(r.PostFormValue("name"))}
	if req.Name == "" {
		return req, badForm("Give the key a name, so you can tell it apart later.")
	}
	if len(req.Name) > 200 {
		return req, badForm("The name is too long (200 characters at most).")
	}
	exp := r.PostFormValue("expires")
	found := false
	for _, c := range expiryChoices {
		if c.Value == exp {
			req.ExpiresIn, found = c.D, true
		}
	}
	if !found {
		return req, badForm("Choose an expiry from the list.")
	}
	for _, f := range strings.FieldsFunc(r.PostFormValue("cidrs"), func(c rune) bool { return c == ',' || c == '\n' || c == ' ' || c == '\r' }) {
		req.AllowedCIDRs = append(req.AllowedCIDRs, f)
	}
	if s := strings.TrimSpace(r.PostFormValue("rate_limit")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 1_000_000 {
			return req, badForm("Rate limit must be a whole number of requests per minute (0 or empty: the server default).")
		}
		req.RateLimit = n
	}
	return req, nil
}

func parseGrace(s string) (time.Duration, error) {
	for _, c := range graceChoices {
		if c.Value == s {
			return c.D, nil
		}
	}
	return 0, badForm("Choose a grace period from the list.")
}

// rows turns keys into list rows; names maps user ids to emails and target ids to names.
func rows(ks []*store.APIKey, names map[string]string, now time.Time) []keyRow {
	out := make([]keyRow, 0, len(ks))
	for _, k := range ks {
		out = append(out, row(k, names, now))
	}
	return out
}

func row(k *store.APIKey, names map[string]string, now time.Time) keyRow {
	kr := keyRow{Key: k, Display: auth.DisplayKey(k), CreatedBy: k.CreatedBy}
	if n, ok := names[k.CreatedBy]; ok {
		kr.CreatedBy = n
	}
	switch {
	case k.RevokedAt != nil:
		kr.Status = "revoked"
	case k.GraceUntil != nil:
		kr.Status = "grace"
	case k.ExpiresAt != nil && !k.ExpiresAt.After(now):
		kr.Status = "expired"
	}
	for _, id := range k.Workflows {
		kr.Narrowing = append(kr.Narrowing, nameOr(names, id))
	}
	for _, g := range k.Grants {
		kr.Narrowing = append(kr.Narrowing, string(g.Level)+" on "+string(g.TargetType)+" "+nameOr(names, g.TargetID))
	}
	return kr
}

func nameOr(names map[string]string, id string) string {
	if n, ok := names[id]; ok {
		return n
	}
	return id
}

// findKey returns the key with id among the ones the user manages under f (auth
// decides which those are), or not found.
func (d *Dashboard) findKey(ctx context.Context, p *auth.Principal, f store.KeyFilter, id string) (*store.APIKey, error) {
	ks, err := d.deps.Resolver.Keys(ctx, p, f)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(ks, func(k *store.APIKey) bool { return k.ID == id })
	if i < 0 {
		return nil, &core.Error{Status: http.StatusNotFound, Code: "not_found", Message: "API key not found. It may have been revoked already."}
	}
	return ks[i], nil
}

// keyPage is one page that lists and manages keys (workspace or organization settings):
// how it finds a key it manages, where its list lives, and how it renders.
type keyPage struct {
	find   func(d *Dashboard, r *http.Request, v *visit) (*store.APIKey, error)
	list   func(r *http.Request) string
	render func(d *Dashboard, w http.ResponseWriter, r *http.Request, v *visit, status int, nk *newKey, formErr string) error
}

// revoke is the page's revoke action: back to the list with a notice.
func (kp keyPage) revoke(d *Dashboard) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visit) error {
		k, err := kp.find(d, r, v)
		if err != nil {
			return err
		}
		if _, err := d.deps.Resolver.RevokeKey(r.Context(), v.P, k.ID); err != nil {
			return err
		}
		redirect(w, r, kp.list(r), "revoked")
		return nil
	}
}

// rotate is the page's rotate action: the list again, with the successor shown once.
func (kp keyPage) rotate(d *Dashboard) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, v *visit) error {
		k, err := kp.find(d, r, v)
		if err != nil {
			return err
		}
		grace, err := parseGrace(r.PostFormValue("grace"))
		if err != nil {
			return err
		}
		nk, err := d.rotate(r, v.P, k, grace)
		if err != nil {
			return err
		}
		return kp.render(d, w, r, v, http.StatusOK, nk, "")
	}
}
