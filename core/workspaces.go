package core

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/store"
)

// WorkspaceAccess is a workspace with the caller's effective level on it.
type WorkspaceAccess struct {
	Workspace *store.Workspace
	Level     store.Level
}

// NewWorkspace describes a workspace to create.
type NewWorkspace struct {
	Name  string
	OrgID string
	// OwnerID is the billing owner; only the operator and instance administrators may
	// name someone else (default: the acting user).
	OwnerID string
}

// WorkspacePatch changes a workspace; nil fields stay as they are.
type WorkspacePatch struct {
	Name              *string
	AllowPersonalKeys *bool
	// OrgID, when set, moves the workspace: "" out of its organization (dropping every
	// organization-key grant on it), an id into that organization.
	OrgID          *string
	MaxKeyLifetime *time.Duration
}

// Member is a workspace member with their user record.
type Member struct {
	User       *store.User
	Permission store.Level
}

// ListWorkspaces returns the workspaces p can read, with p's level on each.
func (s *Service) ListWorkspaces(ctx context.Context, p *auth.Principal) ([]WorkspaceAccess, error) {
	all, err := s.st.ListWorkspaces(ctx)
	if err != nil {
		return nil, err
	}
	var out []WorkspaceAccess
	for _, ws := range all {
		lvl, err := s.az.Level(ctx, p, workspaceTarget(ws.ID))
		if err != nil {
			if isForbiddenOrNotFound(err) {
				continue
			}
			return nil, err
		}
		out = append(out, WorkspaceAccess{Workspace: ws, Level: lvl})
	}
	return out, nil
}

// GetWorkspace returns a workspace p can read, with p's level on it.
func (s *Service) GetWorkspace(ctx context.Context, p *auth.Principal, id string) (*WorkspaceAccess, error) {
	lvl, err := s.az.Level(ctx, p, workspaceTarget(id))
	if err != nil {
		return nil, err
	}
	ws, err := s.st.GetWorkspace(ctx, id)
	if err != nil {
		return nil, mapStoreErr(err, "Workspace not found")
	}
	return &WorkspaceAccess{Workspace: ws, Level: lvl}, nil
}

// CreateWorkspace creates a workspace owned (billed to) the acting user, who becomes
// its admin. Creating it inside an organization needs admin on that organization.
func (s *Service) CreateWorkspace(ctx context.Context, p *auth.Principal, nw NewWorkspace) (*store.Workspace, error) {
	owner := nw.OwnerID
	switch {
	case owner == "":
		uid, err := auth.RequireUser(p)
		if err != nil {
			if p.IsOperator() {
				return nil, badField("ownerId", "an owner is required")
			}
			return nil, err
		}
		owner = uid
	case owner != p.UserID:
		// Billing someone else: instance administrators (and the operator) only.
		if err := s.az.RequireInstanceAdmin(ctx, p); err != nil {
			return nil, err
		}
	}
	if nw.OrgID != "" {
		if err := s.authorize(ctx, p, auth.OrgTarget(nw.OrgID), store.LevelAdmin); err != nil {
			return nil, err
		}
	}
	ws := store.NewWorkspace(nw.Name, owner, nw.OrgID)
	if err := s.st.CreateWorkspace(ctx, ws); err != nil {
		return nil, mapStoreErr(err, "Owner or organization not found")
	}
	return ws, nil
}

// UpdateWorkspace changes a workspace's settings; admin on it. Moving it into an
// organization needs admin on that organization; moving it out of one needs admin on
// the one it leaves. Toggling personal keys is recorded in the audit trail.
func (s *Service) UpdateWorkspace(ctx context.Context, p *auth.Principal, id string, patch WorkspacePatch) (*store.Workspace, error) {
	if err := s.authorize(ctx, p, workspaceTarget(id), store.LevelAdmin); err != nil {
		return nil, err
	}
	// The key policy and the organization decide what keys may do here: a key changing
	// them would re-scope keys (its own among them), which only people do.
	if patch.AllowPersonalKeys != nil || patch.MaxKeyLifetime != nil || patch.OrgID != nil {
		if err := auth.RequireHuman(p); err != nil {
			return nil, err
		}
	}
	cur, err := s.st.GetWorkspace(ctx, id)
	if err != nil {
		return nil, mapStoreErr(err, "Workspace not found")
	}
	if patch.OrgID != nil && *patch.OrgID != cur.OrgID {
		if cur.OrgID != "" {
			if err := s.authorize(ctx, p, auth.OrgTarget(cur.OrgID), store.LevelAdmin); err != nil {
				return nil, err
			}
		}
		if *patch.OrgID != "" {
			if err := s.authorize(ctx, p, auth.OrgTarget(*patch.OrgID), store.LevelAdmin); err != nil {
				return nil, err
			}
		}
	}
	if patch.MaxKeyLifetime != nil && *patch.MaxKeyLifetime < 0 {
		return nil, badField("maxKeyLifetimeSeconds", "must not be negative")
	}
	var oldAllow bool
	var oldOrg string
	ws, err := s.st.UpdateWorkspace(ctx, id, func(ws *store.Workspace) error {
		oldAllow, oldOrg = ws.AllowPersonalKeys, ws.OrgID
		if patch.Name != nil {
			ws.Name = *patch.Name
		}
		if patch.AllowPersonalKeys != nil {
			ws.AllowPersonalKeys = *patch.AllowPersonalKeys
		}
		if patch.OrgID != nil {
			ws.OrgID = *patch.OrgID
		}
		if patch.MaxKeyLifetime != nil {
			ws.MaxKeyLifetime = *patch.MaxKeyLifetime
		}
		return nil
	})
	if err != nil {
		return nil, mapStoreErr(err, "Workspace or organization not found")
	}
	var evs []*store.AuditEvent
	if ws.AllowPersonalKeys != oldAllow {
		evs = append(evs, &store.AuditEvent{Action: "personal_keys_changed", ActorID: actorOf(p), WorkspaceID: id,
			Reason: "allowPersonalApiKeys=" + strconv.FormatBool(ws.AllowPersonalKeys)})
	}
	if ws.OrgID != oldOrg {
		evs = append(evs, &store.AuditEvent{Action: "organization_changed", ActorID: actorOf(p), WorkspaceID: id, OrgID: oldOrg,
			Reason: "from " + orNone(oldOrg) + " to " + orNone(ws.OrgID)})
	}
	if len(evs) > 0 {
		if err := s.st.AddAudit(context.WithoutCancel(ctx), evs...); err != nil {
			s.log.Warn("write workspace audit event", "workspace", id, "err", err)
		}
	}
	return ws, nil
}

// WorkspaceMembers lists a workspace's members; read on the workspace.
func (s *Service) WorkspaceMembers(ctx context.Context, p *auth.Principal, wsID string) ([]Member, error) {
	if err := s.authorize(ctx, p, workspaceTarget(wsID), store.LevelRead); err != nil {
		return nil, err
	}
	var out []Member
	err := s.st.View(ctx, func(r store.Reader) error {
		ms, err := r.WorkspaceMembers(wsID)
		if err != nil {
			return err
		}
		for _, m := range ms {
			u, err := r.User(m.UserID)
			if err != nil {
				continue
			}
			out = append(out, Member{User: u, Permission: m.Permission})
		}
		return nil
	})
	return out, err
}

// SetWorkspaceMember changes a member's permission; admin on the workspace.
func (s *Service) SetWorkspaceMember(ctx context.Context, p *auth.Principal, wsID, userID string, perm store.Level) (*Member, error) {
	// Keys do not change who belongs to a workspace: an org key could otherwise leave
	// behind members that outlive the workspace leaving the org.
	if err := auth.RequireHuman(p); err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, p, workspaceTarget(wsID), store.LevelAdmin); err != nil {
		return nil, err
	}
	var cur store.Level
	var u *store.User
	s.st.View(ctx, func(r store.Reader) error {
		cur, _ = r.Membership(wsID, userID)
		u, _ = r.User(userID)
		return nil
	})
	if cur == store.LevelNone || u == nil {
		return nil, newError(http.StatusNotFound, "not_found", "Workspace member not found")
	}
	if err := s.st.SetWorkspaceMember(ctx, wsID, userID, perm); err != nil {
		return nil, mapStoreErr(err, "Workspace member not found")
	}
	return &Member{User: u, Permission: perm}, nil
}

// RemoveWorkspaceMember removes a member; admin on the workspace, or the member
// themselves leaving, signed in. Their personal keys lose the workspace on the next
// request.
func (s *Service) RemoveWorkspaceMember(ctx context.Context, p *auth.Principal, wsID, userID string) error {
	if err := auth.RequireHuman(p); err != nil {
		return err
	}
	if uid, err := auth.RequireUser(p); err != nil || uid != userID {
		if err := s.authorize(ctx, p, workspaceTarget(wsID), store.LevelAdmin); err != nil {
			return err
		}
	} else if err := s.authorize(ctx, p, workspaceTarget(wsID), store.LevelRead); err != nil {
		return err
	}
	return mapStoreErr(s.st.RemoveWorkspaceMember(ctx, wsID, userID), "Workspace member not found")
}

// OrgKeysReachingWorkspace lists the live organization keys that can reach a workspace,
// each with only its grants on this workspace and its workflows; admin on the workspace.
func (s *Service) OrgKeysReachingWorkspace(ctx context.Context, p *auth.Principal, wsID string) ([]*store.APIKey, error) {
	if err := s.authorize(ctx, p, workspaceTarget(wsID), store.LevelAdmin); err != nil {
		return nil, err
	}
	ks, err := s.st.OrgKeysReachingWorkspace(ctx, wsID)
	if err != nil {
		return nil, mapStoreErr(err, "Workspace not found")
	}
	wfs, err := s.st.ListWorkflows(ctx, wsID)
	if err != nil {
		return nil, err
	}
	here := map[string]bool{wsID: true}
	for _, wf := range wfs {
		here[wf.ID] = true
	}
	out := make([]*store.APIKey, 0, len(ks))
	for _, k := range ks {
		c := *k
		c.Grants = nil
		for _, g := range k.Grants {
			if here[g.TargetID] {
				c.Grants = append(c.Grants, g)
			}
		}
		out = append(out, &c)
	}
	return out, nil
}

func (s *Service) findUser(ctx context.Context, ref string) (*store.User, error) {
	if ref == "" {
		return nil, badField("userId", "userId or email is required")
	}
	u, err := s.st.GetUser(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		u, err = s.st.GetUserByEmail(ctx, ref)
	}
	return u, mapStoreErr(err, "User not found")
}

func isForbiddenOrNotFound(err error) bool {
	var ae *auth.Error
	return errors.As(err, &ae) && (ae.Status == http.StatusForbidden || ae.Status == http.StatusNotFound)
}

func badField(field, msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: field + ": " + msg,
		Details: []map[string]string{{"field": field, "message": msg}}}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
