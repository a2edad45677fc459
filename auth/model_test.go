package auth

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/postgres"
	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

// This file checks Resolve+Authorize against a reference model of SPEC §3 written
// separately and as plainly as possible. Random worlds are built and mutated through
// the real store; after every mutation (a new world) sampled (key, target, level)
// triples must get the model's answer. A failure prints the seed to replay with
// -model.seed.

var (
	modelSeed   = flag.Uint64("model.seed", 0, "replay the reference-model test with this seed")
	modelWorlds = flag.Int("model.worlds", 10000, "worlds the reference-model test checks")
)

// --- the model -------------------------------------------------------------------

type mUser struct {
	id       string
	disabled bool
}

type mWorkspace struct {
	id, org, owner string
	allowPersonal  bool
	members        map[string]store.Level
}

type mKey struct {
	id, plain string
	typ       store.KeyType
	owner     string // user, workspace or org id
	level     store.Level
	workflows []string
	grants    map[string]store.Level // target id → level
	expires   *time.Time
	revoked   bool
	grace     *time.Time
	ws        string // OAuth tokens: the consented workspace (owner is the user)
}

// modelResource is the MCP endpoint the model's OAuth tokens are issued for.
const modelResource = "http://steelengine.test/mcp"

type model struct {
	now        time.Time
	users      []*mUser
	orgs       []string
	workspaces []*mWorkspace
	workflows  map[string]string // workflow id → workspace id
	keys       []*mKey
}

func (m *model) ws(id string) *mWorkspace {
	for _, w := range m.workspaces {
		if w.id == id {
			return w
		}
	}
	return nil
}

func (m *model) user(id string) *mUser {
	for _, u := range m.users {
		if u.id == id {
			return u
		}
	}
	return nil
}

// expect is SPEC §3 spelled out: "" for allowed, else the error code.
func (m *model) expect(k *mKey, kind TargetKind, target string, need store.Level) string {
	if k.typ == store.KeyOAuth && (k.revoked || !m.now.Before(*k.expires) || m.user(k.owner).disabled) {
		return "invalid_token"
	}
	if k.revoked || k.expires != nil && !m.now.Before(*k.expires) || k.grace != nil && !m.now.Before(*k.grace) {
		return "invalid_api_key"
	}
	if k.typ == store.KeyPersonal && m.user(k.owner).disabled {
		return "invalid_api_key"
	}
	var wsID, wfID string
	if kind == TargetWorkflow {
		ws, ok := m.workflows[target]
		if !ok {
			return "not_found"
		}
		wsID, wfID = ws, target
	} else {
		wsID = target
	}
	ws := m.ws(wsID)
	if ws == nil {
		return "not_found"
	}
	var have store.Level
	switch k.typ {
	case store.KeyPersonal:
		have = ws.members[k.owner]
		if have != "" && !ws.allowPersonal {
			return "personal_keys_disabled"
		}
	case store.KeyOAuth:
		// The user's live membership as for a personal key, narrowed to the consent.
		if k.ws != ws.id || len(k.workflows) > 0 && (wfID == "" || !slices.Contains(k.workflows, wfID)) {
			break
		}
		have = ws.members[k.owner]
		if have != "" && !ws.allowPersonal {
			return "personal_keys_disabled"
		}
		if have != "" && k.level.Rank() < have.Rank() {
			have = k.level
		}
	case store.KeyWorkspace:
		if k.owner == ws.id && (len(k.workflows) == 0 || wfID != "" && slices.Contains(k.workflows, wfID)) {
			have = k.level
		}
	case store.KeyOrganization:
		if ws.org != "" && ws.org == k.owner {
			for t, l := range k.grants {
				if (t == ws.id || t == wfID && wfID != "") && l.Rank() > have.Rank() {
					have = l
				}
			}
		}
	}
	if have.Rank() >= need.Rank() && have != "" {
		return ""
	}
	return "forbidden"
}

// --- driving the real store -------------------------------------------------------

type modelRun struct {
	t   *testing.T
	e   *testEnv
	m   *model
	rng *rand.Rand
	ctx context.Context
	// client is the registered OAuth client of this store.
	client string
}

var levels = []store.Level{store.LevelRead, store.LevelWrite, store.LevelAdmin}

func (r *modelRun) pick(n int) int { return r.rng.IntN(n) }

func (r *modelRun) build() {
	e, m := r.e, r.m
	for i := range 4 {
		u := e.user(r.t, fmt.Sprintf("u%d-%s@example.com", i, store.NewID()))
		m.users = append(m.users, &mUser{id: u.ID})
	}
	for range 2 {
		o := &store.Org{Name: "org-" + store.NewID()}
		e.must(r.t, e.st.CreateOrg(r.ctx, o, m.users[0].id))
		m.orgs = append(m.orgs, o.ID)
	}
	for i := range 4 {
		owner := m.users[r.pick(len(m.users))].id
		org := ""
		if r.pick(3) > 0 {
			org = m.orgs[r.pick(2)]
		}
		ws := e.workspace(r.t, fmt.Sprintf("ws%d", i), owner, org)
		mw := &mWorkspace{id: ws.ID, org: org, owner: owner, allowPersonal: true, members: map[string]store.Level{owner: store.LevelAdmin}}
		if r.pick(4) == 0 {
			_, err := e.st.UpdateWorkspace(r.ctx, ws.ID, func(w *store.Workspace) error { w.AllowPersonalKeys = false; return nil })
			e.must(r.t, err)
			mw.allowPersonal = false
		}
		m.workspaces = append(m.workspaces, mw)
		for _, u := range m.users {
			if u.id != owner && r.pick(2) == 0 {
				l := levels[r.pick(3)]
				e.must(r.t, e.st.SetWorkspaceMember(r.ctx, ws.ID, u.id, l))
				mw.members[u.id] = l
			}
		}
		for j := range 2 {
			wf := e.workflow(r.t, ws.ID, fmt.Sprintf("wf%d", j))
			m.workflows[wf.ID] = ws.ID
		}
	}
	for range 8 {
		r.newKey()
	}
	c, err := e.r.RegisterClient(r.ctx, ClientRegistration{ClientName: "model", RedirectURIs: []string{"http://127.0.0.1/cb"}}, "192.0.2.1")
	e.must(r.t, err)
	r.client = c.ID
	for range 4 {
		r.newOAuthToken()
	}
}

// newOAuthToken runs the real authorization: a signed-in user consents (within their
// memberships, else IssueCode refuses and there is no token), the code is exchanged.
func (r *modelRun) newOAuthToken() {
	m := r.m
	u := m.users[r.pick(len(m.users))]
	ws := m.workspaces[r.pick(len(m.workspaces))]
	c := Consent{ClientID: r.client, RedirectURI: "http://127.0.0.1/cb", CodeChallenge: modelChallenge, Resource: modelResource,
		WorkspaceID: ws.id, Level: levels[r.pick(2)]}
	if wfs := r.wsWorkflows(ws.id); len(wfs) > 0 && r.pick(2) == 0 {
		c.Workflows = []string{wfs[r.pick(len(wfs))]}
	}
	code, err := r.e.r.IssueCode(r.ctx, &Principal{UserID: u.id, Session: true}, c)
	if err != nil {
		if _, ok := err.(*OAuthError); !ok {
			r.t.Fatalf("issue code: %v", err)
		}
		return
	}
	ts, err := r.e.r.ExchangeCode(r.ctx, CodeExchange{ClientID: r.client, Code: code, RedirectURI: c.RedirectURI, CodeVerifier: modelVerifier})
	r.e.must(r.t, err)
	exp := m.now.Add(AccessTokenTTL)
	m.keys = append(m.keys, &mKey{id: ts.Grant.ID, plain: ts.AccessToken, typ: store.KeyOAuth, owner: u.id, ws: ws.id,
		level: c.Level, workflows: c.Workflows, expires: &exp, grants: map[string]store.Level{}})
}

const (
	modelVerifier  = "model-verifier-model-verifier-model-verifier-0123"
	modelChallenge = "9fmNdsN3PGfkA1S6m7W4b3DMkZ3x0jsQxTGhQ6H4K5g"
)

func (r *modelRun) wsWorkflows(wsID string) []string {
	var out []string
	for wf, ws := range r.m.workflows {
		if ws == wsID {
			out = append(out, wf)
		}
	}
	slices.Sort(out)
	return out
}

func (r *modelRun) newKey() {
	m := r.m
	req := CreateKeyRequest{}
	mk := &mKey{grants: map[string]store.Level{}}
	switch r.pick(3) {
	case 0:
		u := m.users[r.pick(len(m.users))]
		req.Type, req.UserID, mk.owner = store.KeyPersonal, u.id, u.id
	case 1:
		ws := m.workspaces[r.pick(len(m.workspaces))]
		req.Type, req.WorkspaceID, mk.owner = store.KeyWorkspace, ws.id, ws.id
		mk.level = store.LevelWrite
		if r.pick(2) == 0 {
			mk.level = levels[r.pick(3)]
			req.Level = mk.level
		}
		if wfs := r.wsWorkflows(ws.id); len(wfs) > 0 && r.pick(3) == 0 {
			req.Workflows = []string{wfs[r.pick(len(wfs))]}
			mk.workflows = req.Workflows
		}
	default:
		org := m.orgs[r.pick(len(m.orgs))]
		var targets []store.Grant
		for _, ws := range m.workspaces {
			if ws.org != org {
				continue
			}
			if r.pick(2) == 0 {
				targets = append(targets, store.Grant{TargetType: store.TargetWorkspace, TargetID: ws.id, Level: levels[r.pick(3)]})
			}
			for _, wf := range r.wsWorkflows(ws.id) {
				if r.pick(3) == 0 {
					targets = append(targets, store.Grant{TargetType: store.TargetWorkflow, TargetID: wf, Level: levels[r.pick(3)]})
				}
			}
		}
		if len(targets) == 0 {
			return
		}
		req.Type, req.OrgID, req.Grants, mk.owner = store.KeyOrganization, org, targets, org
		for _, g := range targets {
			if g.Level.Rank() > mk.grants[g.TargetID].Rank() {
				mk.grants[g.TargetID] = g.Level
			}
		}
	}
	mk.typ = req.Type
	if r.pick(4) == 0 {
		req.ExpiresIn = time.Duration(1+r.pick(180)) * time.Minute
		t := m.now.Add(req.ExpiresIn)
		mk.expires = &t
	}
	plain, k := r.e.key(r.t, req)
	mk.id, mk.plain = k.ID, plain
	m.keys = append(m.keys, mk)
}

// mutate applies one random change to store and model; the result is a new world.
func (r *modelRun) mutate() string {
	e, m := r.e, r.m
	switch r.pick(10) {
	case 0:
		ws := m.workspaces[r.pick(len(m.workspaces))]
		ws.allowPersonal = !ws.allowPersonal
		_, err := e.st.UpdateWorkspace(r.ctx, ws.id, func(w *store.Workspace) error { w.AllowPersonalKeys = ws.allowPersonal; return nil })
		e.must(r.t, err)
		return "toggle personal keys " + ws.id
	case 1:
		ws := m.workspaces[r.pick(len(m.workspaces))]
		u := m.users[r.pick(len(m.users))]
		if u.id == ws.owner {
			return "noop"
		}
		if _, member := ws.members[u.id]; member && r.pick(3) == 0 {
			e.must(r.t, e.st.RemoveWorkspaceMember(r.ctx, ws.id, u.id))
			delete(ws.members, u.id)
			return "remove member"
		}
		l := levels[r.pick(3)]
		e.must(r.t, e.st.SetWorkspaceMember(r.ctx, ws.id, u.id, l))
		ws.members[u.id] = l
		return "set member"
	case 2:
		ws := m.workspaces[r.pick(len(m.workspaces))]
		next := ""
		if r.pick(3) > 0 {
			next = m.orgs[r.pick(len(m.orgs))]
		}
		_, err := e.st.UpdateWorkspace(r.ctx, ws.id, func(w *store.Workspace) error { w.OrgID = next; return nil })
		e.must(r.t, err)
		if ws.org != "" && ws.org != next {
			// SPEC §3: leaving an org deletes the grants on the workspace and its workflows.
			targets := append(r.wsWorkflows(ws.id), ws.id)
			for _, k := range m.keys {
				for _, t := range targets {
					delete(k.grants, t)
				}
			}
		}
		ws.org = next
		return "move workspace to org " + next
	case 3:
		k := m.keys[r.pick(len(m.keys))]
		if k.typ == store.KeyOAuth {
			if k.revoked {
				return "noop"
			}
			_, err := e.r.RevokeConnectedApp(r.ctx, Operator(), k.id)
			if err != nil && (k.expires == nil || m.now.Before(*k.expires)) {
				r.t.Fatalf("revoke connected app %s: %v", k.id, err)
			}
			k.revoked = true
			return "revoke connected app " + k.id
		}
		_, err := e.r.RevokeKey(r.ctx, Operator(), k.id)
		e.must(r.t, err)
		k.revoked = true
		return "revoke " + k.id
	case 4:
		k := m.keys[r.pick(len(m.keys))]
		if k.typ == store.KeyOAuth {
			r.newOAuthToken()
			return "new oauth token"
		}
		if m.expect(k, TargetWorkspace, "-", store.LevelRead) == "invalid_api_key" {
			return "noop"
		}
		grace := time.Duration(r.pick(2)) * time.Hour
		plain, nk, err := e.r.RotateKey(r.ctx, Operator(), k.id, grace)
		if k.typ == store.KeyOrganization && len(k.grants) == 0 || k.grace != nil {
			// A grantless org key has nothing to carry over, and a rotated key has a
			// successor already: both are refused.
			if err == nil {
				r.t.Fatalf("rotating org key %s without grants succeeded", k.id)
			}
			return "rotate refused"
		}
		if err != nil {
			sk, _ := e.st.GetKey(r.ctx, k.id)
			r.t.Fatalf("rotate %s: %v (model grants %v, store %+v)", k.id, err, k.grants, sk)
		}
		g := m.now.Add(grace)
		k.grace = &g
		c := *k
		c.id, c.plain, c.grace = nk.ID, plain, nil
		c.grants = map[string]store.Level{}
		for t, l := range k.grants {
			c.grants[t] = l
		}
		m.keys = append(m.keys, &c)
		return "rotate " + k.id
	case 5:
		d := time.Duration(r.pick(120)) * time.Minute
		e.clk.Advance(d)
		m.now = m.now.Add(d)
		return "advance clock " + d.String()
	case 6:
		r.newKey()
		return "new key"
	case 7:
		u := m.users[1+r.pick(len(m.users)-1)]
		u.disabled = !u.disabled
		_, err := e.st.DisableUser(r.ctx, u.id, u.disabled)
		e.must(r.t, err)
		return "toggle disabled " + u.id
	case 8:
		ws := m.workspaces[r.pick(len(m.workspaces))]
		wf := e.workflow(r.t, ws.id, "wf-"+store.NewID())
		m.workflows[wf.ID] = ws.id
		return "new workflow"
	default:
		wfs := r.wsWorkflows(m.workspaces[r.pick(len(m.workspaces))].id)
		if len(wfs) == 0 {
			return "noop"
		}
		id := wfs[r.pick(len(wfs))]
		e.must(r.t, e.st.DeleteWorkflow(r.ctx, id))
		delete(m.workflows, id)
		for _, k := range m.keys {
			delete(k.grants, id) // grants on a deleted workflow go with it
		}
		return "delete workflow " + id
	}
}

type triple struct {
	k    *mKey
	kind TargetKind
	id   string
	need store.Level
}

func (r *modelRun) targets() []Target {
	var ts []Target
	for _, ws := range r.m.workspaces {
		ts = append(ts, WorkspaceTarget(ws.id))
	}
	for wf := range r.m.workflows {
		ts = append(ts, WorkflowTarget(wf))
	}
	slices.SortFunc(ts, func(a, b Target) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return append(ts, WorkflowTarget("no-such-workflow"), WorkspaceTarget("no-such-workspace"))
}

func (r *modelRun) verify(world int, history []string, all bool) {
	ts := r.targets()
	checkOne := func(k *mKey, t Target, need store.Level) {
		want := r.m.expect(k, t.Kind, t.ID, need)
		got := r.e.check(r.t, k.plain, t, need)
		if got != want {
			r.t.Fatalf("world %d (seed %d): key %s (%s) on %v %s at %s: got %q, want %q\nhistory: %v",
				world, *modelSeed, k.id, k.typ, t.Kind, t.ID, need, got, want, history)
		}
	}
	if all {
		for _, k := range r.m.keys {
			for _, t := range ts {
				for _, l := range levels {
					checkOne(k, t, l)
				}
			}
		}
		return
	}
	for range 12 {
		checkOne(r.m.keys[r.pick(len(r.m.keys))], ts[r.pick(len(ts))], levels[r.pick(3)])
	}
}

// EnvModelPGWorlds sets how many worlds the reference-model test checks on PostgreSQL
// (default modelPGWorlds; the bbolt run checks -model.worlds).
const EnvModelPGWorlds = "STEELENGINE_MODEL_PG_WORLDS"

// modelPGWorlds is the PostgreSQL run's default: every write is a network round trip
// and a commit there, so the full 10,000 worlds take 6-7 minutes under -race, more than
// the rest of the package together. STEELENGINE_MODEL_PG_WORLDS=10000 runs them all.
const modelPGWorlds = 1000

// TestAuthorizeMatchesReferenceModel checks the model on both storage backends with
// the same seed: bbolt, and PostgreSQL (skipped, as pgtest skips, without a server).
func TestAuthorizeMatchesReferenceModel(t *testing.T) {
	if *modelSeed == 0 {
		*modelSeed = uint64(time.Now().UnixNano())
	}
	worlds := *modelWorlds
	if testing.Short() {
		worlds = 1000
	}
	t.Run("bolt", func(t *testing.T) { runModel(t, worlds, newEnv) })
	t.Run("postgres", func(t *testing.T) {
		pgWorlds := min(worlds, modelPGWorlds)
		if v := os.Getenv(EnvModelPGWorlds); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 100 {
				t.Fatalf("%s=%q: want a number of worlds, at least 100", EnvModelPGWorlds, v)
			}
			pgWorlds = n
		}
		if testing.Short() {
			pgWorlds = min(pgWorlds, 300)
		}
		// One database for the run: every world's records have fresh ids, so the stores
		// opened one after another on it never see each other's (and 100 databases
		// would cost more than the worlds).
		url := pgtest.URL(t)
		runModel(t, pgWorlds, func(t testing.TB) *testEnv {
			st, err := postgres.OpenStore(context.Background(), url, postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return envOn(t, st, t.TempDir())
		})
	})
}

// runModel builds worlds in fresh stores from newEnv, 100 worlds per store.
func runModel(t *testing.T, worlds int, newEnv func(testing.TB) *testEnv) {
	const perStore = 100
	rng := rand.New(rand.NewPCG(*modelSeed, 0x5eed))
	oauthTokens := 0
	start := time.Now()
	t.Logf("seed %d, %d worlds", *modelSeed, worlds)
	for built := 0; built < worlds; {
		e := newEnv(t)
		r := &modelRun{t: t, e: e, rng: rng, ctx: context.Background(),
			m: &model{now: e.clk.Now(), workflows: map[string]string{}}}
		r.build()
		history := []string{"build"}
		r.verify(built, history, true)
		built++
		for i := 0; i < perStore && built < worlds; i++ {
			history = append(history, r.mutate())
			r.verify(built, history, i == perStore-1)
			built++
		}
		for _, k := range r.m.keys {
			if k.typ == store.KeyOAuth {
				oauthTokens++
			}
		}
		e.close()
	}
	// A floor, so that a consent rule refusing everything cannot make this vacuous.
	if oauthTokens < worlds/100 {
		t.Fatalf("only %d OAuth tokens were checked in %d worlds", oauthTokens, worlds)
	}
	t.Logf("%d OAuth tokens among the principals; %d worlds in %v", oauthTokens, worlds, time.Since(start).Round(time.Millisecond))
}
