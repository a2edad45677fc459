package bolt

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/steelengine/steelengine/store"
)

// CreateKey stores a new key with its grants and indexes. Names are 1–100 characters and
// unique among the owner's live keys (ErrConflict). An organization key needs at least
// one grant, each targeting a workspace of that organization or one of its workflows.
func (s *Store) CreateKey(ctx context.Context, k *store.APIKey) error {
	return s.update(ctx, func(w *writer) error { return w.createKey(k) })
}

func (w *writer) createKey(k *store.APIKey) error {
	if k.ID == "" {
		k.ID = store.NewID()
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now()
	}
	k.UpdatedAt = k.CreatedAt
	if err := w.validateKey(k); err != nil {
		return err
	}
	if err := k.CheckSecret(); err != nil {
		return err
	}
	byDigest := w.tx.Bucket(bKeysByDigest)
	if byDigest.Get(k.Digest) != nil {
		return fmt.Errorf("key digest: %w", store.ErrConflict)
	}
	if err := byDigest.Put(k.Digest, []byte(k.ID)); err != nil {
		return err
	}
	if err := w.tx.Bucket(bKeysByOwner).Put(ckey(k.OwnerID(), k.ID), nil); err != nil {
		return err
	}
	for _, g := range k.Grants {
		if err := w.putGrant(k.ID, g); err != nil {
			return err
		}
	}
	if err := w.bumpAuth(); err != nil {
		return err
	}
	return w.putKey(k)
}

// putKey saves the record without its grants, which live in their own buckets.
func (w *writer) putKey(k *store.APIKey) error {
	rec := *k
	rec.Grants = nil
	return putJSON(w.tx.Bucket(bKeys), []byte(k.ID), &rec)
}

func (w *writer) validateKey(k *store.APIKey) error {
	return store.ValidateKey(k, w.rotating, keyRefs{w})
}

// keyRefs answers store.ValidateKey from the write transaction.
type keyRefs struct{ w *writer }

func (r keyRefs) KeyOwner(t store.KeyType, id string) error {
	var err error
	switch t {
	case store.KeyPersonal:
		_, err = r.w.User(id)
	case store.KeyWorkspace:
		_, err = r.w.Workspace(id)
	default:
		_, err = r.w.Org(id)
	}
	return err
}

func (r keyRefs) WorkflowWorkspace(id string) (string, error) {
	wf, err := r.w.Workflow(id)
	if err != nil {
		return "", err
	}
	return wf.WorkspaceID, nil
}

func (r keyRefs) WorkspaceOrg(id string) (string, error) {
	ws, err := r.w.Workspace(id)
	if err != nil {
		return "", err
	}
	return ws.OrgID, nil
}

func (r keyRefs) KeyNameTaken(owner, keyID, name string) (bool, error) {
	ids, err := idsUnder(r.w.tx.Bucket(bKeysByOwner), owner)
	if err != nil {
		return false, err
	}
	for _, id := range ids {
		if id == keyID {
			continue
		}
		other, err := r.w.Key(id)
		if err != nil {
			return false, err
		}
		if other.RevokedAt == nil && other.Name == name {
			return true, nil
		}
	}
	return false, nil
}

func (w *writer) putGrant(keyID string, g store.Grant) error {
	if err := putJSON(w.tx.Bucket(bGrants), ckey(keyID, g.TargetID), g); err != nil {
		return err
	}
	return w.tx.Bucket(bGrantsByTgt).Put(ckey(g.TargetID, keyID), nil)
}

// deleteGrantsTargeting removes every grant on targetID, from both grant buckets.
func (w *writer) deleteGrantsTargeting(targetID string) error {
	keyIDs, err := idsUnder(w.tx.Bucket(bGrantsByTgt), targetID)
	if err != nil {
		return err
	}
	for _, keyID := range keyIDs {
		if err := w.tx.Bucket(bGrants).Delete(ckey(keyID, targetID)); err != nil {
			return err
		}
		if err := w.tx.Bucket(bGrantsByTgt).Delete(ckey(targetID, keyID)); err != nil {
			return err
		}
	}
	if len(keyIDs) > 0 {
		return w.bumpAuth()
	}
	return nil
}

// SetKeyGrants replaces an organization key's grants.
func (s *Store) SetKeyGrants(ctx context.Context, keyID string, grants []store.Grant) error {
	return s.update(ctx, func(w *writer) error {
		k, err := w.Key(keyID)
		if err != nil {
			return err
		}
		if err := k.CheckGrants(grants, keyRefs{w}); err != nil {
			return err
		}
		for _, g := range k.Grants {
			if err := w.tx.Bucket(bGrants).Delete(ckey(keyID, g.TargetID)); err != nil {
				return err
			}
			if err := w.tx.Bucket(bGrantsByTgt).Delete(ckey(g.TargetID, keyID)); err != nil {
				return err
			}
		}
		for _, g := range grants {
			if err := w.putGrant(keyID, g); err != nil {
				return err
			}
		}
		return w.bumpAuth()
	})
}

// UpdateKey applies fn to a key's mutable fields (name, expiry, allowlist, rate limit)
// and saves it.
func (s *Store) UpdateKey(ctx context.Context, id string, fn func(k *store.APIKey) error) (*store.APIKey, error) {
	var out *store.APIKey
	err := s.update(ctx, func(w *writer) error {
		k, err := w.Key(id)
		if err != nil {
			return err
		}
		keep := *k
		if err := fn(k); err != nil {
			return err
		}
		k.KeepFixed(&keep)
		if err := w.validateKey(k); err != nil {
			return err
		}
		k.UpdatedAt = now()
		if err := w.bumpAuth(); err != nil {
			return err
		}
		out = k
		return w.putKey(k)
	})
	return out, err
}

// RevokeKey marks a key revoked; it stops resolving on the next request.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) (*store.APIKey, error) {
	var out *store.APIKey
	err := s.update(ctx, func(w *writer) error {
		k, err := w.Key(id)
		if err != nil {
			return err
		}
		if k.RevokedAt == nil {
			t := at.UTC()
			k.RevokedAt = &t
			k.UpdatedAt = t
		}
		if err := w.bumpAuth(); err != nil {
			return err
		}
		out = k
		return w.putKey(k)
	})
	return out, err
}

// RotateKey creates newKey as the successor of oldID, which keeps working until
// graceUntil (a past time ends it at once; the caller's clock decides). Both happen in one transaction.
// The successor inherits the owner, scope, allowlist and rate limit; its expiry is the
// caller's (newKey.ExpiresAt), since the lifetime policy lives above the store.
func (s *Store) RotateKey(ctx context.Context, oldID string, newKey *store.APIKey, graceUntil time.Time) error {
	return s.update(ctx, func(w *writer) error {
		old, err := w.Key(oldID)
		if err != nil {
			return err
		}
		if err := old.Rotate(newKey, graceUntil.UTC(), now()); err != nil {
			return err
		}
		if err := w.putKey(old); err != nil {
			return err
		}
		w.rotating = true
		return w.createKey(newKey)
	})
}

// Key returns the key with id, grants included.
func (r *Reader) Key(id string) (*store.APIKey, error) {
	k, err := getJSON[store.APIKey](r.tx.Bucket(bKeys), []byte(id))
	if err != nil {
		return nil, fmt.Errorf("api key %q: %w", id, err)
	}
	if k.Type == store.KeyOrganization {
		if k.Grants, err = r.Grants(id); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// KeyByDigest returns the key whose HMAC digest is d.
func (r *Reader) KeyByDigest(d []byte) (*store.APIKey, error) {
	id := r.tx.Bucket(bKeysByDigest).Get(d)
	if id == nil {
		return nil, store.ErrNotFound
	}
	return r.Key(string(id))
}

// Grants lists an organization key's grants.
func (r *Reader) Grants(keyID string) ([]store.Grant, error) {
	var out []store.Grant
	err := scanPrefix(r.tx.Bucket(bGrants), keyID, func(_, v []byte) error {
		g, err := decodeGrant(v)
		if err != nil {
			return err
		}
		out = append(out, g)
		return nil
	})
	return out, err
}

// KeysTargeting lists the ids of organization keys with a grant on targetID.
func (r *Reader) KeysTargeting(targetID string) ([]string, error) {
	return idsUnder(r.tx.Bucket(bGrantsByTgt), targetID)
}

// Keys lists keys matching f, oldest first.
func (r *Reader) Keys(f store.KeyFilter) ([]*store.APIKey, error) {
	var ids []string
	var err error
	switch owner := cmp.Or(f.UserID, f.WorkspaceID, f.OrgID); owner {
	case "":
		err = r.tx.Bucket(bKeys).ForEach(func(k, _ []byte) error {
			ids = append(ids, string(k))
			return nil
		})
	default:
		ids, err = idsUnder(r.tx.Bucket(bKeysByOwner), owner)
	}
	if err != nil {
		return nil, err
	}
	var out []*store.APIKey
	for _, id := range ids {
		k, err := r.Key(id)
		if err != nil {
			return nil, err
		}
		if f.Type != "" && k.Type != f.Type {
			continue
		}
		if k.OwnerID() != cmp.Or(f.UserID, f.WorkspaceID, f.OrgID, k.OwnerID()) {
			continue
		}
		if k.RevokedAt != nil && !f.IncludeRevoked {
			continue
		}
		out = append(out, k)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// GetKey returns the key with id.
func (s *Store) GetKey(ctx context.Context, id string) (k *store.APIKey, err error) {
	err = s.view(ctx, func(r *Reader) error { k, err = r.Key(id); return err })
	return k, err
}

// ListKeys lists keys matching f.
func (s *Store) ListKeys(ctx context.Context, f store.KeyFilter) (ks []*store.APIKey, err error) {
	err = s.view(ctx, func(r *Reader) error { ks, err = r.Keys(f); return err })
	return ks, err
}

// OrgKeysReachingWorkspace lists the live organization keys with a grant on the
// workspace or on one of its workflows, each with all of its grants.
func (s *Store) OrgKeysReachingWorkspace(ctx context.Context, wsID string) (ks []*store.APIKey, err error) {
	err = s.view(ctx, func(r *Reader) error {
		ws, err := r.Workspace(wsID)
		if err != nil {
			return err
		}
		targets, err := r.WorkspaceWorkflowIDs(wsID)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, t := range append([]string{wsID}, targets...) {
			ids, err := r.KeysTargeting(t)
			if err != nil {
				return err
			}
			for _, id := range ids {
				if seen[id] {
					continue
				}
				seen[id] = true
				k, err := r.Key(id)
				if err != nil {
					return err
				}
				if k.RevokedAt == nil && k.OrgID == ws.OrgID {
					ks = append(ks, k)
				}
			}
		}
		return nil
	})
	sort.SliceStable(ks, func(i, j int) bool { return ks[i].CreatedAt.Before(ks[j].CreatedAt) })
	return ks, err
}

// SetKeysLastUsed records last-used times in one transaction. It does not change any
// access decision, so the auth epoch stays as it is and warm caches survive.
func (s *Store) SetKeysLastUsed(ctx context.Context, used map[string]store.LastUsed) error {
	if len(used) == 0 {
		return nil
	}
	return s.update(ctx, func(w *writer) error {
		for id, u := range used {
			k, err := w.Key(id)
			if err != nil {
				continue // deleted since; nothing to record
			}
			if k.LastUsedAt != nil && !u.At.After(*k.LastUsedAt) {
				continue
			}
			t := u.At.UTC()
			k.LastUsedAt, k.LastUsedVia = &t, u.Via
			if err := w.putKey(k); err != nil {
				return err
			}
		}
		return nil
	})
}
