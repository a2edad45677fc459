package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/steelengine/steelengine/store"
	bbolt "go.etcd.io/bbolt"
)

// migration is one numbered, ordered schema step for core.db. Steps must be idempotent
// within their transaction; the schema version is written in the same transaction, so a
// crash leaves either the old or the new version, never half of one.
type migration struct {
	version uint32
	name    string
	apply   func(tx *bbolt.Tx) error
}

var coreMigrations = []migration{
	{1, "core buckets", func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{
			bUsers, bUsersByEmail, bOrgs, bOrgMembers, bUserOrgs, bWorkspaces, bWsMembers,
			bUserWs, bWsByOrg, bWorkflows, bWfByWs, bDeployments, bKeys, bKeysByDigest,
			bKeysByOwner, bGrants, bGrantsByTgt, bAudit, bAuditByKey, bSessions,
			bMCPServers, bMCPByWs, bEnv,
		} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		return nil
	}},
	{2, "invitations", func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bInvites, bInvByEmail, bInvByTarget} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		return nil
	}},
	{3, "personal environment variables; deployments numbered", func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bUserEnv); err != nil {
			return fmt.Errorf("create bucket %s: %w", bUserEnv, err)
		}
		return numberDeployments(tx)
	}},
	{4, "model providers", func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bProviders); err != nil {
			return fmt.Errorf("create bucket %s: %w", bProviders, err)
		}
		return nil
	}},
	{5, "schedules", func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bSchedules)
		return err
	}},
	{6, "agent memory", func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bMemory)
		return err
	}},
	{7, "external MCP servers", func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bExternalMCP)
		return err
	}},
	{8, "oauth clients, grants and tokens", func(tx *bbolt.Tx) error {
		for _, b := range oauthBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		return nil
	}},
	{9, "paused runs", func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bPaused, bPausedDue} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		return nil
	}},
	{10, "oauth authorization codes", func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bOAuthCodes)
		return err
	}},
}

// numberDeployments makes every workflow's counters agree with its stored versions:
// LatestVersion is at least the highest stored number (so the next deploy never
// overwrites one), and an active version with no stored definition falls back to the
// newest stored one, or to undeployed when none is stored.
func numberDeployments(tx *bbolt.Tx) error {
	wfs, deps := tx.Bucket(bWorkflows), tx.Bucket(bDeployments)
	var fix []*store.Workflow
	err := wfs.ForEach(func(_, v []byte) error {
		wf := new(store.Workflow)
		if err := json.Unmarshal(v, wf); err != nil {
			return fmt.Errorf("decode workflow: %w", err)
		}
		var latest uint32
		if err := scanPrefix(deps, wf.ID, func(suffix, _ []byte) error {
			if len(suffix) == 4 {
				latest = max(latest, binary.BigEndian.Uint32(suffix))
			}
			return nil
		}); err != nil {
			return err
		}
		changed := false
		if latest > wf.LatestVersion {
			wf.LatestVersion, changed = latest, true
		}
		if wf.ActiveVersion > 0 && deps.Get(depKey(wf.ID, wf.ActiveVersion)) == nil {
			wf.ActiveVersion, changed = latest, true
			if latest == 0 {
				wf.DeployedAt = nil
			}
		}
		if changed {
			fix = append(fix, wf)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, wf := range fix {
		if err := putJSON(wfs, []byte(wf.ID), wf); err != nil {
			return err
		}
	}
	return nil
}

// CoreSchemaVersion is the newest core.db schema this build knows.
func CoreSchemaVersion() uint32 { return coreMigrations[len(coreMigrations)-1].version }

func (s *Store) migrate(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.core.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bMeta)
		if err != nil {
			return fmt.Errorf("create meta bucket: %w", err)
		}
		return runMigrations(meta, tx, coreMigrations, "core.db")
	})
}

// runMigrations applies the steps newer than the version recorded in meta.
func runMigrations(meta *bbolt.Bucket, tx *bbolt.Tx, steps []migration, file string) error {
	var current uint32
	if v := meta.Get(kSchema); len(v) == 4 {
		current = binary.BigEndian.Uint32(v)
	}
	latest := steps[len(steps)-1].version
	if current > latest {
		return fmt.Errorf("%s has schema version %d, this build knows up to %d: %w", file, current, latest, store.ErrNewerSchema)
	}
	for _, m := range steps {
		if m.version <= current {
			continue
		}
		if err := m.apply(tx); err != nil {
			return fmt.Errorf("%s migration %d (%s): %w", file, m.version, m.name, err)
		}
		current = m.version
	}
	v := make([]byte, 4)
	binary.BigEndian.PutUint32(v, current)
	return meta.Put(kSchema, v)
}
