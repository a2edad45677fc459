package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/postgres"
)

// MigrateCount is one record kind of a store migration: how many the source holds, how
// many were copied, and how many the target holds afterwards (equal to Source when the
// copy is complete).
type MigrateCount struct {
	Kind   string `json:"kind"`
	Source int    `json:"source"`
	Copied int    `json:"copied"`
	Target int    `json:"target"`
}

// MigrateNotCopied names what MigrateStore leaves behind: state that is rebuilt or
// re-established by itself on the new store.
//
// Sessions stay behind on purpose: a session is a browser cookie of the address the
// dashboard was served from, good for days at most, and moving up usually puts a load
// balancer at a new address, so signing in again costs less than a store API to list them.
var MigrateNotCopied = []string{
	"dashboard sessions (users sign in again)",
	"OAuth authorization codes not yet exchanged (they last a minute; the client authorizes again)",
}

// MigrateStore copies the bbolt store in dataDir into the empty PostgreSQL database at
// databaseURL through the store interfaces, keeping every id, so that API keys, sealed
// environment variables and provider secrets keep working under the same master key
// (verified against dataDir's check first and then recorded in the database, so replicas
// with another key refuse to start). dryRun counts what would be copied and writes nothing
// but the schema. The server must be stopped (bbolt's lock says so otherwise).
func MigrateStore(ctx context.Context, dataDir, masterKey, databaseURL string, dryRun bool, log *slog.Logger) ([]MigrateCount, error) {
	if log == nil {
		log = slog.Default()
	}
	src, err := OpenStore(ctx, dataDir, "", log)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	if _, err := loadSecrets(ctx, Config{DataDir: dataDir, MasterKey: masterKey}, src); err != nil {
		return nil, err
	}
	dst, err := postgres.OpenStore(ctx, databaseURL, postgres.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	defer dst.Close()
	users, err := dst.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	n, err := dst.Logs().Count(ctx)
	if err != nil {
		return nil, err
	}
	if len(users) > 0 || n > 0 {
		return nil, fmt.Errorf("the target database is not empty (%d users, %d executions): migrate-store copies into an empty database only", len(users), n)
	}
	m := &migration{ctx: ctx, src: src, dst: dst, dry: dryRun, counts: map[string]*MigrateCount{}, now: time.Now().UTC()}
	if err := m.run(); err != nil {
		return m.list(), err
	}
	if !dryRun {
		// The database remembers which master key its secrets are sealed under.
		if _, err := auth.LoadSharedSecrets(ctx, dataDir, masterKey, dst, false); err != nil {
			return m.list(), err
		}
		if err := m.verify(); err != nil {
			return m.list(), err
		}
	}
	return m.list(), nil
}

type migration struct {
	ctx      context.Context
	src, dst store.Store
	dry      bool
	order    []string
	counts   map[string]*MigrateCount
	wsIDs    []string
	orgIDs   []string
	userIDs  []string
	// now decides which invitations are live, the same for the copy and its check.
	now time.Time
}

func (m *migration) count(kind string) *MigrateCount {
	c, ok := m.counts[kind]
	if !ok {
		c = &MigrateCount{Kind: kind}
		m.counts[kind] = c
		m.order = append(m.order, kind)
	}
	return c
}

func (m *migration) list() []MigrateCount {
	out := make([]MigrateCount, 0, len(m.order))
	for _, k := range m.order {
		out = append(out, *m.counts[k])
	}
	return out
}

// copy counts one record of kind and writes it unless dry.
func (m *migration) copy(kind string, write func() error) error {
	c := m.count(kind)
	c.Source++
	if m.dry {
		return nil
	}
	if err := write(); err != nil {
		return fmt.Errorf("copy %s: %w", kind, err)
	}
	c.Copied++
	return nil
}

func (m *migration) run() error {
	ctx := m.ctx
	users, err := m.src.ListUsers(ctx)
	if err != nil {
		return err
	}
	for _, u := range users {
		m.userIDs = append(m.userIDs, u.ID)
		if err := m.copy("users", func() error { return m.dst.CreateUser(ctx, u) }); err != nil {
			return err
		}
	}
	orgs, err := m.src.ListOrgs(ctx)
	if err != nil {
		return err
	}
	for _, o := range orgs {
		m.orgIDs = append(m.orgIDs, o.ID)
		var members []store.OrgMember
		if err := m.src.View(ctx, func(r store.Reader) error { members, err = r.OrgMembers(o.ID); return err }); err != nil {
			return err
		}
		sort.SliceStable(members, func(i, j int) bool { return members[i].Role.Rank() > members[j].Role.Rank() })
		if len(members) == 0 {
			return fmt.Errorf("organization %s has no members", o.ID)
		}
		if err := m.copy("organizations", func() error { return m.dst.CreateOrg(ctx, o, members[0].UserID) }); err != nil {
			return err
		}
		for _, mb := range members {
			if err := m.copy("organization members", func() error { return m.dst.SetOrgMember(ctx, o.ID, mb.UserID, mb.Role) }); err != nil {
				return err
			}
		}
	}
	wss, err := m.src.ListWorkspaces(ctx)
	if err != nil {
		return err
	}
	for _, ws := range wss {
		m.wsIDs = append(m.wsIDs, ws.ID)
		var members []store.WorkspaceMember
		if err := m.src.View(ctx, func(r store.Reader) error { members, err = r.WorkspaceMembers(ws.ID); return err }); err != nil {
			return err
		}
		if err := m.copy("workspaces", func() error { return m.dst.CreateWorkspace(ctx, ws) }); err != nil {
			return err
		}
		for _, mb := range members {
			if err := m.copy("workspace members", func() error { return m.dst.SetWorkspaceMember(ctx, ws.ID, mb.UserID, mb.Permission) }); err != nil {
				return err
			}
		}
	}
	if err := m.workflows(); err != nil {
		return err
	}
	keys, err := m.src.ListKeys(ctx, store.KeyFilter{IncludeRevoked: true})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := m.copy("API keys", func() error { return m.dst.CreateKey(ctx, k) }); err != nil {
			return err
		}
	}
	for _, wsID := range m.wsIDs {
		if err := m.workspaceResources(wsID); err != nil {
			return err
		}
	}
	for _, uid := range m.userIDs {
		vs, err := m.src.UserEnvVars(ctx, uid)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if err := m.copy("personal environment variables", func() error { return m.dst.SetEnvVar(ctx, v) }); err != nil {
				return err
			}
		}
	}
	if err := m.executions(); err != nil {
		return err
	}
	if err := m.agentMemory(); err != nil {
		return err
	}
	if err := m.oauth(); err != nil {
		return err
	}
	return m.pending()
}

// agentMemory copies every conversation as it was, its update time included, so
// retention ages it from its last turn and not from the move.
func (m *migration) agentMemory() error {
	ctx := m.ctx
	m.count("agent conversations")
	err := m.src.EachConversation(ctx, func(c *store.Conversation) error {
		return m.copy("agent conversations", func() error { return m.dst.PutConversation(ctx, c) })
	})
	if err != nil {
		return fmt.Errorf("copy agent conversations: %w", err)
	}
	return nil
}

// oauth copies the MCP apps' OAuth clients, and every grant with its tokens as stored:
// token digests are HMACs under the master key the database keeps, so an app's access
// and refresh tokens keep working after the move, and a refresh token rotated before it
// is still recognised as reused. Grants keep their client even when it was forgotten,
// revoked and expired grants their state, as on the source.
func (m *migration) oauth() error {
	ctx := m.ctx
	m.count("OAuth clients")
	m.count("OAuth grants")
	toks := m.count("OAuth tokens")
	clients, err := m.src.ListOAuthClients(ctx)
	if err != nil {
		return err
	}
	for _, c := range clients {
		// A zero idleBefore forgets no client: the copy is stored as it is.
		if err := m.copy("OAuth clients", func() error { return m.dst.CreateOAuthClient(ctx, c, time.Time{}) }); err != nil {
			return err
		}
	}
	err = m.src.EachOAuthGrant(ctx, func(g *store.OAuthGrant, ts []*store.OAuthToken) error {
		toks.Source += len(ts)
		if err := m.copy("OAuth grants", func() error { return m.dst.PutOAuthGrant(ctx, g, ts...) }); err != nil {
			return err
		}
		if !m.dry {
			toks.Copied += len(ts)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("copy OAuth grants: %w", err)
	}
	return nil
}

// pending copies what a team is in the middle of: live invitations, runs paused for an
// approval or a wait (their sealed state opens under the same master key), schedule fire
// state (so a schedule neither repeats nor skips a fire), and the key audit trail.
func (m *migration) pending() error {
	ctx := m.ctx
	m.count("pending invitations")
	m.count("paused runs")
	for _, target := range append(append([]string{}, m.wsIDs...), m.orgIDs...) {
		invs, err := m.src.InvitationsForTarget(ctx, target, m.now)
		if err != nil {
			return err
		}
		for _, inv := range invs {
			if err := m.copy("pending invitations", func() error { return m.dst.PutInvitation(ctx, inv) }); err != nil {
				return err
			}
		}
	}
	paused, err := m.src.PausedRuns(ctx, "")
	if err != nil {
		return err
	}
	for _, p := range paused {
		if err := m.copy("paused runs", func() error { return m.dst.PutPausedRun(ctx, p) }); err != nil {
			return err
		}
	}
	scheds, err := m.src.Schedules(ctx)
	if err != nil {
		return err
	}
	m.count("schedules").Source = len(scheds)
	if !m.dry && len(scheds) > 0 {
		if err := m.dst.SyncSchedules(ctx, scheds, func(_, nw *store.Schedule) *store.Schedule { return nw }); err != nil {
			return fmt.Errorf("copy schedules: %w", err)
		}
		m.count("schedules").Copied = len(scheds)
	}
	evs, err := m.src.ListAudit(ctx, "", math.MaxInt32)
	if err != nil {
		return err
	}
	c := m.count("audit events")
	c.Source = len(evs)
	if m.dry {
		return nil
	}
	for len(evs) > 0 {
		n := min(len(evs), 1000)
		if err := m.dst.AddAudit(ctx, evs[:n]...); err != nil {
			return fmt.Errorf("copy audit events: %w", err)
		}
		c.Copied += n
		evs = evs[n:]
	}
	return nil
}

// workflows copies drafts and every deployed version, numbered as before, then the
// active version.
func (m *migration) workflows() error {
	ctx := m.ctx
	wfs, err := m.src.ListWorkflows(ctx, "")
	if err != nil {
		return err
	}
	for _, wf := range wfs {
		var deps []*store.Deployment
		if err := m.src.View(ctx, func(r store.Reader) error { deps, err = r.Deployments(wf.ID); return err }); err != nil {
			return err
		}
		fresh := *wf
		fresh.ActiveVersion, fresh.LatestVersion, fresh.DeployedAt = 0, 0, nil
		if err := m.copy("workflows", func() error { return m.dst.CreateWorkflow(ctx, &fresh) }); err != nil {
			return err
		}
		for i, d := range deps {
			if d.Version != uint32(i+1) {
				return fmt.Errorf("workflow %s: deployed versions are not numbered 1..%d", wf.ID, len(deps))
			}
			if err := m.copy("deployed versions", func() error {
				_, err := m.dst.Deploy(ctx, wf.ID, d.Definition, d.CreatedBy, d.Note)
				return err
			}); err != nil {
				return err
			}
		}
		if m.dry || len(deps) == 0 {
			continue
		}
		if wf.ActiveVersion > 0 {
			_, err = m.dst.ActivateVersion(ctx, wf.ID, wf.ActiveVersion)
		} else {
			_, err = m.dst.Undeploy(ctx, wf.ID)
		}
		if err != nil {
			return fmt.Errorf("workflow %s: restore its active version: %w", wf.ID, err)
		}
	}
	return nil
}

func (m *migration) workspaceResources(wsID string) error {
	ctx := m.ctx
	envs, err := m.src.EnvVars(ctx, wsID)
	if err != nil {
		return err
	}
	for _, v := range envs {
		if err := m.copy("workspace environment variables", func() error { return m.dst.SetEnvVar(ctx, v) }); err != nil {
			return err
		}
	}
	servers, err := m.src.ListMCPServers(ctx, wsID)
	if err != nil {
		return err
	}
	for _, s := range servers {
		if err := m.copy("MCP servers", func() error { return m.dst.CreateMCPServer(ctx, s) }); err != nil {
			return err
		}
	}
	provs, err := m.src.ModelProviders(ctx, wsID)
	if err != nil {
		return err
	}
	for _, p := range provs {
		if err := m.copy("model providers", func() error { return m.dst.PutModelProvider(ctx, p) }); err != nil {
			return err
		}
	}
	ext, err := m.src.ExternalMCPServers(ctx, wsID)
	if err != nil {
		return err
	}
	for _, x := range ext {
		if err := m.copy("external MCP servers", func() error { return m.dst.PutExternalMCPServer(ctx, x) }); err != nil {
			return err
		}
	}
	return nil
}

// executions copies every workspace's execution log, oldest first, a few records at a
// time in flight (each Put waits for its group commit).
func (m *migration) executions() error {
	ctx := m.ctx
	c := m.count("executions")
	for _, wsID := range m.wsIDs {
		cursor := ""
		for {
			page, err := m.src.Logs().List(ctx, store.LogQuery{WorkspaceID: wsID, Order: "asc", Limit: 1000, Cursor: cursor})
			if err != nil {
				return fmt.Errorf("read executions of %s: %w", wsID, err)
			}
			c.Source += len(page.Items)
			if !m.dry {
				if err := putAll(ctx, m.dst.Logs(), page.Items); err != nil {
					return err
				}
				c.Copied += len(page.Items)
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
	}
	return nil
}

func putAll(ctx context.Context, logs store.Logs, items []*store.Execution) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next = make(chan *store.Execution)
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range next {
				if err := logs.Put(ctx, e); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("copy execution %s: %w", e.ID, err))
					mu.Unlock()
				}
			}
		}()
	}
	for _, e := range items {
		next <- e
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// verify counts what the target holds, kind by kind, and fails on any difference.
func (m *migration) verify() error {
	ctx := m.ctx
	set := func(kind string, n int, err error) error {
		if err != nil {
			return err
		}
		m.count(kind).Target = n
		return nil
	}
	users, err := m.dst.ListUsers(ctx)
	if err := set("users", len(users), err); err != nil {
		return err
	}
	orgs, err := m.dst.ListOrgs(ctx)
	if err := set("organizations", len(orgs), err); err != nil {
		return err
	}
	wss, err := m.dst.ListWorkspaces(ctx)
	if err := set("workspaces", len(wss), err); err != nil {
		return err
	}
	var orgMembers, wsMembers, deps int
	err = m.dst.View(ctx, func(r store.Reader) error {
		for _, o := range orgs {
			ms, err := r.OrgMembers(o.ID)
			if err != nil {
				return err
			}
			orgMembers += len(ms)
		}
		for _, ws := range wss {
			ms, err := r.WorkspaceMembers(ws.ID)
			if err != nil {
				return err
			}
			wsMembers += len(ms)
		}
		wfs, err := r.Workflows()
		if err != nil {
			return err
		}
		m.count("workflows").Target = len(wfs)
		for _, wf := range wfs {
			ds, err := r.Deployments(wf.ID)
			if err != nil {
				return err
			}
			deps += len(ds)
		}
		return nil
	})
	if err != nil {
		return err
	}
	m.count("organization members").Target = orgMembers
	m.count("workspace members").Target = wsMembers
	m.count("deployed versions").Target = deps
	keys, err := m.dst.ListKeys(ctx, store.KeyFilter{IncludeRevoked: true})
	if err := set("API keys", len(keys), err); err != nil {
		return err
	}
	// Per-workspace resources are counted only for the kinds the source had (the target
	// was empty before the copy).
	perWS := []struct {
		kind string
		n    func(wsID string) (int, error)
	}{
		{"workspace environment variables", func(id string) (int, error) { v, err := m.dst.EnvVars(ctx, id); return len(v), err }},
		{"MCP servers", func(id string) (int, error) { v, err := m.dst.ListMCPServers(ctx, id); return len(v), err }},
		{"model providers", func(id string) (int, error) { v, err := m.dst.ModelProviders(ctx, id); return len(v), err }},
		{"external MCP servers", func(id string) (int, error) { v, err := m.dst.ExternalMCPServers(ctx, id); return len(v), err }},
	}
	for _, k := range perWS {
		c, ok := m.counts[k.kind]
		if !ok {
			continue
		}
		c.Target = 0
		for _, ws := range wss {
			n, err := k.n(ws.ID)
			if err != nil {
				return err
			}
			c.Target += n
		}
	}
	if c, ok := m.counts["personal environment variables"]; ok {
		c.Target = 0
		for _, u := range users {
			v, err := m.dst.UserEnvVars(ctx, u.ID)
			if err != nil {
				return err
			}
			c.Target += len(v)
		}
	}
	n, err := m.dst.Logs().Count(ctx)
	if err := set("executions", n, err); err != nil {
		return err
	}
	if c, ok := m.counts["pending invitations"]; ok {
		c.Target = 0
		for _, ws := range wss {
			v, err := m.dst.InvitationsForTarget(ctx, ws.ID, m.now)
			if err != nil {
				return err
			}
			c.Target += len(v)
		}
		for _, o := range orgs {
			v, err := m.dst.InvitationsForTarget(ctx, o.ID, m.now)
			if err != nil {
				return err
			}
			c.Target += len(v)
		}
	}
	var convs int
	err = m.dst.EachConversation(ctx, func(*store.Conversation) error { convs++; return nil })
	if err := set("agent conversations", convs, err); err != nil {
		return err
	}
	clients, err := m.dst.ListOAuthClients(ctx)
	if err := set("OAuth clients", len(clients), err); err != nil {
		return err
	}
	var grants, toks int
	err = m.dst.EachOAuthGrant(ctx, func(_ *store.OAuthGrant, ts []*store.OAuthToken) error {
		grants, toks = grants+1, toks+len(ts)
		return nil
	})
	if err := set("OAuth grants", grants, err); err != nil {
		return err
	}
	m.count("OAuth tokens").Target = toks
	paused, err := m.dst.PausedRuns(ctx, "")
	if err := set("paused runs", len(paused), err); err != nil {
		return err
	}
	scheds, err := m.dst.Schedules(ctx)
	if err := set("schedules", len(scheds), err); err != nil {
		return err
	}
	evs, err := m.dst.ListAudit(ctx, "", math.MaxInt32)
	if err := set("audit events", len(evs), err); err != nil {
		return err
	}
	var bad []string
	for _, k := range m.order {
		if c := m.counts[k]; c.Target != c.Source {
			bad = append(bad, fmt.Sprintf("%s: %d in the source, %d in the target", k, c.Source, c.Target))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("verification failed: %v", bad)
	}
	return nil
}
