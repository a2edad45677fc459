package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/steelengine/steelengine/store"
)

// Authorizer makes the one access decision of SteelEngine (SPEC §3).
type Authorizer struct {
	st store.Store

	mu    sync.RWMutex
	cache map[decisionKey]decision
}

type decisionKey struct {
	who    string // key id, or "user:"+id for sessions
	kind   TargetKind
	target string
}

// decision is an effective level (or an error) computed at a pair of store epochs; it
// holds only while neither epoch moved, so every write that can change access takes
// effect on the next request.
type decision struct {
	authEpoch, wfEpoch uint64
	level              store.Level
	err                *Error
}

const maxDecisions = 1 << 16

// NewAuthorizer returns an Authorizer over st.
func NewAuthorizer(st store.Store) *Authorizer {
	return &Authorizer{st: st, cache: map[decisionKey]decision{}}
}

// Authorize allows p to act on t at level need, or returns an *Error: 401 for a
// principal that is no longer valid, 403 forbidden / personal_keys_disabled outside
// its scope, 404 for a target that does not exist.
func (a *Authorizer) Authorize(ctx context.Context, p *Principal, t Target, need store.Level) error {
	lvl, err := a.Level(ctx, p, t)
	if err != nil {
		return err
	}
	if lvl.Rank() < need.Rank() {
		return errForbidden()
	}
	return nil
}

// Level returns p's effective level on t, or the *Error Authorize would return for
// any level. LevelNone comes back as a 403.
func (a *Authorizer) Level(ctx context.Context, p *Principal, t Target) (store.Level, error) {
	if p == nil {
		return store.LevelNone, ErrUnauthenticated()
	}
	k := decisionKey{who: p.KeyID, kind: t.Kind, target: t.ID}
	if p.KeyID == "" {
		k.who = "user:" + p.UserID
		if p.operator {
			k.who = "operator"
		}
	}
	ae, we := a.st.AuthEpoch(), a.st.WorkflowEpoch()
	a.mu.RLock()
	d, ok := a.cache[k]
	a.mu.RUnlock()
	if !ok || d.authEpoch != ae || d.wfEpoch != we {
		var err error
		d, err = a.decide(ctx, p, t)
		if err != nil {
			return store.LevelNone, err
		}
		d.authEpoch, d.wfEpoch = ae, we
		if p.epoch != 0 && p.epoch != ae {
			// p's grants or level predate a change: use the decision, don't keep it.
			return d.result()
		}
		a.mu.Lock()
		if len(a.cache) >= maxDecisions {
			clear(a.cache)
		}
		a.cache[k] = d
		a.mu.Unlock()
	}
	return d.result()
}

func (d decision) result() (store.Level, error) {
	if d.err != nil {
		return store.LevelNone, d.err
	}
	if d.level == store.LevelNone {
		return store.LevelNone, errForbidden()
	}
	return d.level, nil
}

// decide reads current state in one transaction.
func (a *Authorizer) decide(ctx context.Context, p *Principal, t Target) (decision, error) {
	var d decision
	err := a.st.View(ctx, func(r store.Reader) error {
		d.level, d.err = effectiveLevel(r, p, t)
		return nil
	})
	if err != nil {
		return d, fmt.Errorf("authorize: %w", err)
	}
	return d, nil
}

func effectiveLevel(r store.Reader, p *Principal, t Target) (store.Level, *Error) {
	var wsID, wfID string
	switch t.Kind {
	case TargetWorkflow:
		wf, err := r.Workflow(t.ID)
		if err != nil {
			return store.LevelNone, errNotFound("Workflow")
		}
		wsID, wfID = wf.WorkspaceID, wf.ID
	case TargetWorkspace:
		wsID = t.ID
	case TargetOrg:
		return orgLevel(r, p, t.ID)
	default:
		return store.LevelNone, errForbidden()
	}
	ws, err := r.Workspace(wsID)
	if err != nil {
		return store.LevelNone, errNotFound("Workspace")
	}
	if p.operator {
		return store.LevelAdmin, nil
	}
	switch {
	case p.Session:
		u, err := r.User(p.UserID)
		if err != nil || u.DisabledAt != nil {
			return store.LevelNone, errInvalidKey("user disabled")
		}
		if u.InstanceAdmin {
			return store.LevelAdmin, nil
		}
		lvl, _ := r.Membership(ws.ID, p.UserID)
		return lvl, nil
	case p.KeyType == store.KeyPersonal:
		u, err := r.User(p.UserID)
		if err != nil || u.DisabledAt != nil {
			return store.LevelNone, errInvalidKey("owner disabled")
		}
		lvl, _ := r.Membership(ws.ID, p.UserID)
		if lvl == store.LevelNone {
			return store.LevelNone, nil
		}
		if !ws.AllowPersonalKeys {
			return store.LevelNone, errPersonalKeysDisabled()
		}
		return lvl, nil
	case p.KeyType == store.KeyOAuth:
		// The consenting user's live membership, as for a personal key, narrowed to
		// the consented workspace, workflows and level.
		u, err := r.User(p.UserID)
		if err != nil || u.DisabledAt != nil {
			return store.LevelNone, errInvalidKey("owner disabled")
		}
		if p.WorkspaceID != ws.ID || len(p.Workflows) > 0 && (wfID == "" || !slices.Contains(p.Workflows, wfID)) {
			return store.LevelNone, nil
		}
		lvl, _ := r.Membership(ws.ID, p.UserID)
		if lvl == store.LevelNone {
			return store.LevelNone, nil
		}
		if !ws.AllowPersonalKeys {
			return store.LevelNone, errPersonalKeysDisabled()
		}
		if p.Level.Rank() < lvl.Rank() {
			lvl = p.Level
		}
		return lvl, nil
	case p.KeyType == store.KeyWorkspace:
		if p.WorkspaceID != ws.ID {
			return store.LevelNone, nil
		}
		if len(p.Workflows) > 0 && (wfID == "" || !slices.Contains(p.Workflows, wfID)) {
			return store.LevelNone, nil
		}
		if p.Level == store.LevelNone {
			return store.LevelWrite, nil
		}
		return p.Level, nil
	case p.KeyType == store.KeyOrganization:
		if ws.OrgID == "" || ws.OrgID != p.OrgID {
			return store.LevelNone, nil
		}
		best := store.LevelNone
		for _, g := range p.Grants {
			hit := g.TargetType == store.TargetWorkspace && g.TargetID == ws.ID ||
				g.TargetType == store.TargetWorkflow && wfID != "" && g.TargetID == wfID
			if hit && g.Level.Rank() > best.Rank() {
				best = g.Level
			}
		}
		return best, nil
	}
	return store.LevelNone, nil
}

// orgLevel: org owners and admins administer the organization (and its keys); members
// read it. Keys never manage organizations.
func orgLevel(r store.Reader, p *Principal, orgID string) (store.Level, *Error) {
	if _, err := r.Org(orgID); err != nil {
		return store.LevelNone, errNotFound("Organization")
	}
	if p.operator {
		return store.LevelAdmin, nil
	}
	if p.UserID == "" || p.KeyType == store.KeyWorkspace || p.KeyType == store.KeyOrganization || p.KeyType == store.KeyOAuth {
		return store.LevelNone, nil
	}
	u, err := r.User(p.UserID)
	if err != nil || u.DisabledAt != nil {
		return store.LevelNone, errInvalidKey("user disabled")
	}
	if p.Session && u.InstanceAdmin {
		return store.LevelAdmin, nil
	}
	role, err := r.OrgRole(orgID, p.UserID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.LevelNone, nil
	}
	switch role {
	case store.RoleOwner, store.RoleAdmin:
		return store.LevelAdmin, nil
	case store.RoleMember:
		return store.LevelRead, nil
	}
	return store.LevelNone, nil
}
