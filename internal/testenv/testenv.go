// Package testenv starts a real SteelEngine (app.Open on a temporary data directory,
// served by httptest) with a small seeded world, for the front doors' tests.
package testenv

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/core"
	"github.com/steelengine/steelengine/store"
)

// Env is a running server and the world seeded into it.
type Env struct {
	App    *app.App
	Server *httptest.Server
	URL    string

	Admin, Member, Outsider *store.User // Admin: instance admin, org owner, ws admin; Member: ws write
	AdminPassword           string
	Org                     *store.Org
	WS, OtherWS             *store.Workspace // WS in Org; OtherWS outside any org, owned by Outsider
	Greet, Echo             *store.Workflow  // deployed workflows in WS
	Undeployed              *store.Workflow  // in WS, never deployed

	// Keys (plaintext), one per kind of principal.
	AdminKey, MemberKey, OutsiderKey string
	WSKey, WSReadKey, WSNarrowKey    string // write on WS; read on WS; write narrowed to Echo
	OrgKey, OrgWorkflowKey           string // org: admin grant on WS; org: write grant on Echo only
}

// Options adjust the environment.
type Options struct {
	Config func(c *app.Config)
}

// Root returns the repository root (for test/ fixtures).
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Workflow reads a fixture from test/workflows.
func Workflow(t testing.TB, name string) []byte {
	b, err := os.ReadFile(filepath.Join(Root(), "test", "workflows", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// New starts a server; it is closed when the test ends.
func New(t testing.TB, opts ...Options) *Env {
	t.Helper()
	ctx := context.Background()
	cfg := app.Config{
		DataDir:          t.TempDir(),
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		InProcessSandbox: true,
		Core:             core.Config{ExecutionTimeout: 30 * time.Second},
	}
	for _, o := range opts {
		if o.Config != nil {
			o.Config(&cfg)
		}
	}
	a, err := app.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{App: a}
	e.seed(t)
	e.Server = httptest.NewServer(a.Handler())
	e.URL = e.Server.URL
	t.Cleanup(func() {
		e.Server.Close()
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a.Close(cctx)
	})
	return e
}

func (e *Env) seed(t testing.TB) {
	ctx := context.Background()
	st := e.App.Store
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	e.AdminPassword = "correct horse battery staple"
	hash, err := auth.HashPassword(e.AdminPassword)
	must(err)
	e.Admin = &store.User{Email: "admin@example.com", Name: "Admin", PasswordHash: hash, InstanceAdmin: true}
	e.Member = &store.User{Email: "member@example.com", Name: "Member", PasswordHash: hash}
	e.Outsider = &store.User{Email: "outsider@example.com", Name: "Outsider", PasswordHash: hash}
	for _, u := range []*store.User{e.Admin, e.Member, e.Outsider} {
		must(st.CreateUser(ctx, u))
	}
	e.Org = &store.Org{Name: "Acme"}
	must(st.CreateOrg(ctx, e.Org, e.Admin.ID))
	e.WS = store.NewWorkspace("Main", e.Admin.ID, e.Org.ID)
	must(st.CreateWorkspace(ctx, e.WS))
	must(st.SetWorkspaceMember(ctx, e.WS.ID, e.Member.ID, store.LevelWrite))
	e.OtherWS = store.NewWorkspace("Other", e.Outsider.ID, "")
	must(st.CreateWorkspace(ctx, e.OtherWS))

	svc, op := e.App.Service, auth.Operator()
	imp := func(name string) *store.Workflow {
		wf, err := svc.ImportWorkflow(ctx, op, e.WS.ID, Workflow(t, name))
		must(err)
		return wf
	}
	e.Greet, e.Echo, e.Undeployed = imp("greet.json"), imp("echo.json"), imp("greet.json")
	for _, wf := range []*store.Workflow{e.Greet, e.Echo} {
		_, err := svc.Deploy(ctx, op, wf.ID, core.DeployRequest{})
		must(err)
	}

	key := func(req auth.CreateKeyRequest) string {
		if req.Name == "" {
			req.Name = "k-" + store.NewID()
		}
		plain, _, err := e.App.Resolver.CreateKey(ctx, op, req)
		must(err)
		return plain
	}
	e.AdminKey = key(auth.CreateKeyRequest{Type: store.KeyPersonal, UserID: e.Admin.ID})
	e.MemberKey = key(auth.CreateKeyRequest{Type: store.KeyPersonal, UserID: e.Member.ID})
	e.OutsiderKey = key(auth.CreateKeyRequest{Type: store.KeyPersonal, UserID: e.Outsider.ID})
	e.WSKey = key(auth.CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: e.WS.ID})
	e.WSReadKey = key(auth.CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: e.WS.ID, Level: store.LevelRead})
	e.WSNarrowKey = key(auth.CreateKeyRequest{Type: store.KeyWorkspace, WorkspaceID: e.WS.ID, Workflows: []string{e.Echo.ID}})
	e.OrgKey = key(auth.CreateKeyRequest{Type: store.KeyOrganization, OrgID: e.Org.ID,
		Grants: []store.Grant{{TargetType: store.TargetWorkspace, TargetID: e.WS.ID, Level: store.LevelAdmin}}})
	e.OrgWorkflowKey = key(auth.CreateKeyRequest{Type: store.KeyOrganization, OrgID: e.Org.ID,
		Grants: []store.Grant{{TargetType: store.TargetWorkflow, TargetID: e.Echo.ID, Level: store.LevelWrite}}})
}
