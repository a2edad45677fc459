package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steelengine/steelengine/store"
)

const orgCols = `id, name, created_at, max_key_lifetime`

func scanOrg(r pgx.Row) (*store.Org, error) {
	o := new(store.Org)
	var maxLife int64
	if err := r.Scan(&o.ID, &o.Name, &o.CreatedAt, &maxLife); err != nil {
		return nil, err
	}
	o.CreatedAt = o.CreatedAt.UTC()
	o.MaxKeyLifetime = time.Duration(maxLife)
	return o, nil
}

// getOrg reads one organization. lock takes its row for the rest of a write transaction:
// every change to an organization's members takes it first, so checks such as "another
// owner remains" see the members as they will be committed.
func getOrg(ctx context.Context, q dbtx, id string, lock bool) (*store.Org, error) {
	sql := `SELECT ` + orgCols + ` FROM orgs WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	return queryOne(ctx, q, "organization", id, scanOrg, sql, id)
}

func listOrgs(ctx context.Context, q dbtx) ([]*store.Org, error) {
	return queryList(ctx, q, "organizations", scanOrg, `SELECT `+orgCols+` FROM orgs ORDER BY id COLLATE "C"`)
}

// CreateOrg stores a new organization with ownerID as its owner.
func (s *Store) CreateOrg(ctx context.Context, o *store.Org, ownerID string) error {
	if err := o.CheckName(); err != nil {
		return err
	}
	if o.ID == "" {
		o.ID = store.NewID()
	}
	if o.CreatedAt.IsZero() {
		o.CreatedAt = time.Now().UTC()
	}
	o.CreatedAt = pgTime(o.CreatedAt)
	return s.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := getUser(ctx, tx, ownerID, false); err != nil {
			return fmt.Errorf("organization owner: %w", err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO orgs (id, name, created_at, max_key_lifetime) VALUES ($1, $2, $3, $4)`,
			o.ID, o.Name, o.CreatedAt, int64(o.MaxKeyLifetime))
		if isUnique(err) {
			return fmt.Errorf("organization %q: %w", o.ID, store.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("postgres: create organization: %w", err)
		}
		return setOrgMember(ctx, tx, o.ID, ownerID, store.RoleOwner)
	})
}

// UpdateOrg applies fn to the stored organization and saves it.
func (s *Store) UpdateOrg(ctx context.Context, id string, fn func(o *store.Org) error) (*store.Org, error) {
	var out *store.Org
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		o, err := getOrg(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if err := fn(o); err != nil {
			return err
		}
		o.ID = id
		if err := o.CheckName(); err != nil {
			return err
		}
		o.CreatedAt = pgTime(o.CreatedAt)
		_, err = tx.Exec(ctx, `UPDATE orgs SET name = $2, created_at = $3, max_key_lifetime = $4 WHERE id = $1`,
			id, o.Name, o.CreatedAt, int64(o.MaxKeyLifetime))
		if err != nil {
			return fmt.Errorf("postgres: update organization %q: %w", id, err)
		}
		if err := BumpEpoch(ctx, tx, EpochAuth); err != nil {
			return err
		}
		out = o
		return nil
	})
	return out, err
}

// SetOrgMember adds userID to the organization or changes their role.
func (s *Store) SetOrgMember(ctx context.Context, orgID, userID string, role store.OrgRole) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := getOrg(ctx, tx, orgID, true); err != nil {
			return err
		}
		if _, err := getUser(ctx, tx, userID, false); err != nil {
			return err
		}
		cur, err := orgRole(ctx, tx, orgID, userID)
		if err != nil {
			return err
		}
		if cur == store.RoleOwner && role != store.RoleOwner {
			if err := keepAnOwner(ctx, tx, orgID, userID); err != nil {
				return err
			}
		}
		return setOrgMember(ctx, tx, orgID, userID, role)
	})
}

// RemoveOrgMember removes userID from the organization; the last owner cannot leave.
func (s *Store) RemoveOrgMember(ctx context.Context, orgID, userID string) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		// Lock the organization (when it exists: otherwise the member is simply not found).
		if _, err := getOrg(ctx, tx, orgID, true); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		role, err := orgRole(ctx, tx, orgID, userID)
		if err != nil {
			return err
		}
		if role == "" {
			return notFound("organization member", userID)
		}
		if role == store.RoleOwner {
			if err := keepAnOwner(ctx, tx, orgID, userID); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM org_members WHERE org_id = $1 AND user_id = $2`, orgID, userID); err != nil {
			return fmt.Errorf("postgres: remove organization member: %w", err)
		}
		return BumpEpoch(ctx, tx, EpochAuth)
	})
}

// keepAnOwner refuses a change that would leave orgID without an owner once leaving is
// no longer one. The caller holds the organization's row lock.
func keepAnOwner(ctx context.Context, tx pgx.Tx, orgID, leaving string) error {
	var other bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM org_members WHERE org_id = $1 AND role = $2 AND user_id <> $3)`,
		orgID, string(store.RoleOwner), leaving).Scan(&other)
	if err != nil {
		return fmt.Errorf("postgres: count organization owners: %w", err)
	}
	if !other {
		return invalid("organization %s must keep at least one owner", orgID)
	}
	return nil
}

// setOrgMember writes a membership and bumps the auth epoch; the caller checked the rest.
func setOrgMember(ctx context.Context, tx pgx.Tx, orgID, userID string, role store.OrgRole) error {
	if err := store.CheckRole(role); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO org_members (org_id, user_id, role) VALUES ($1, $2, $3)
		ON CONFLICT (org_id, user_id) DO UPDATE SET role = EXCLUDED.role`, orgID, userID, string(role))
	if err != nil {
		return fmt.Errorf("postgres: set organization member: %w", err)
	}
	return BumpEpoch(ctx, tx, EpochAuth)
}

func orgRole(ctx context.Context, q dbtx, orgID, userID string) (store.OrgRole, error) {
	var role string
	err := q.QueryRow(ctx, `SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2`, orgID, userID).Scan(&role)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("postgres: read organization role: %w", err)
	}
	return store.OrgRole(role), nil
}

// Org returns the organization with id.
func (r *reader) Org(id string) (*store.Org, error) { return getOrg(r.ctx, r.tx, id, false) }

// Orgs lists every organization, oldest first.
func (r *reader) Orgs() ([]*store.Org, error) { return listOrgs(r.ctx, r.tx) }

// OrgRole returns userID's role in orgID, or "" when not a member.
func (r *reader) OrgRole(orgID, userID string) (store.OrgRole, error) {
	return orgRole(r.ctx, r.tx, orgID, userID)
}

// OrgMembers lists the members of orgID, by user id.
func (r *reader) OrgMembers(orgID string) ([]store.OrgMember, error) {
	return queryList(r.ctx, r.tx, "organization members", func(row pgx.Row) (m store.OrgMember, err error) {
		err = row.Scan(&m.OrgID, &m.UserID, &m.Role)
		return m, err
	}, `SELECT org_id, user_id, role FROM org_members WHERE org_id = $1 ORDER BY user_id COLLATE "C"`, orgID)
}

// UserOrgs lists the ids of the organizations userID belongs to.
func (r *reader) UserOrgs(userID string) ([]string, error) {
	return queryList(r.ctx, r.tx, "user organizations", scanString,
		`SELECT org_id FROM org_members WHERE user_id = $1 ORDER BY org_id COLLATE "C"`, userID)
}

// OrgWorkspaces lists the ids of the workspaces in orgID.
func (r *reader) OrgWorkspaces(orgID string) ([]string, error) {
	return queryList(r.ctx, r.tx, "organization workspaces", scanString,
		`SELECT id FROM workspaces WHERE org_id = $1 ORDER BY id COLLATE "C"`, orgID)
}

// FindOrg returns the organization named by id or by unique name.
func (r *reader) FindOrg(ref string) (*store.Org, error) {
	o, err := r.Org(ref)
	if !errors.Is(err, store.ErrNotFound) {
		return o, err
	}
	all, err := r.Orgs()
	if err != nil {
		return nil, err
	}
	return store.FindByName(all, ref, "organization", func(o *store.Org) string { return o.Name })
}

// GetOrg returns the organization with id.
func (s *Store) GetOrg(ctx context.Context, id string) (*store.Org, error) {
	return getOrg(ctx, s.pool, id, false)
}

// ListOrgs lists every organization.
func (s *Store) ListOrgs(ctx context.Context) ([]*store.Org, error) { return listOrgs(ctx, s.pool) }
