package bolt

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/steelengine/steelengine/store"
	bbolt "go.etcd.io/bbolt"
)

// Prune deletes the executions that started before before, with their index entries,
// in transactions of at most pruneChunk records. Rollups are kept, so metrics still
// cover pruned periods. It returns how many executions it deleted.
func (l *LogDB) Prune(ctx context.Context, before time.Time) (int, error) {
	limit := encTime(before.UnixNano())
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, last := 0, false
		err := l.update(func(tx *bbolt.Tx) error {
			var keys [][]byte
			c := tx.Bucket(bIdxTime).Cursor()
			for k, _ := c.First(); k != nil && len(keys) < pruneChunk; k, _ = c.Next() {
				if len(k) < 8 || bytes.Compare(k[:8], limit) >= 0 {
					break
				}
				keys = append(keys, bytes.Clone(k))
			}
			for _, k := range keys {
				ok, err := deleteExecution(tx, string(k[8:]))
				if err != nil {
					return err
				}
				if ok {
					n++
				} else if err := tx.Bucket(bIdxTime).Delete(k); err != nil {
					return err
				}
			}
			last = len(keys) < pruneChunk
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("prune logs: %w", err)
		}
		total += n
		if last {
			return total, nil
		}
	}
}

// Retain applies r to every workspace with logs (also deleted workspaces), deleting in
// transactions of at most pruneChunk records so that writes interleave. It returns how
// many executions it deleted.
func (l *LogDB) Retain(ctx context.Context, r store.Retention, now time.Time) (int, error) {
	if r.MaxAge <= 0 && r.MaxCount <= 0 {
		return 0, nil
	}
	wss, err := l.logWorkspaces(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, ws := range wss {
		n, err := l.RetainWorkspace(ctx, ws, r, now)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// RetainWorkspace applies r to one workspace's executions.
func (l *LogDB) RetainWorkspace(ctx context.Context, wsID string, r store.Retention, now time.Time) (int, error) {
	if r.MaxAge <= 0 && r.MaxCount <= 0 {
		return 0, nil
	}
	prefix := append([]byte(wsID), sep)
	var cutoff []byte
	if r.MaxAge > 0 {
		cutoff = encTime(now.Add(-r.MaxAge).UnixNano())
	}
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		// Count in a read transaction (does not block writers), delete in a short write.
		excess := 0
		if r.MaxCount > 0 {
			var n int
			if err := l.db.View(func(tx *bbolt.Tx) error {
				c := tx.Bucket(bIdxWsTime).Cursor()
				for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
					n++
				}
				return nil
			}); err != nil {
				return total, fmt.Errorf("count logs of workspace %s: %w", wsID, err)
			}
			excess = n - r.MaxCount
		}
		deleted, more := 0, false
		err := l.update(func(tx *bbolt.Tx) error {
			var doomed []string
			pos := 0
			c := tx.Bucket(bIdxWsTime).Cursor()
			for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				if len(k) < len(prefix)+8 {
					continue
				}
				old := cutoff != nil && bytes.Compare(k[len(prefix):len(prefix)+8], cutoff) < 0
				over := pos < excess
				pos++
				if !old && !over {
					break // oldest first: nothing further is doomed
				}
				if status, _, _, _, ok := parseSummary(v); ok && !finished(string(status)) {
					continue
				}
				doomed = append(doomed, string(k[len(prefix)+8:]))
				if len(doomed) == pruneChunk {
					more = true
					break
				}
			}
			for _, id := range doomed {
				ok, err := deleteExecution(tx, id)
				if err != nil {
					return err
				}
				if ok {
					deleted++
				}
			}
			return nil
		})
		total += deleted
		if err != nil {
			return total, fmt.Errorf("prune logs of workspace %s: %w", wsID, err)
		}
		if !more {
			return total, nil
		}
	}
}

// logWorkspaces lists the workspace ids that have executions, by skipping through the
// workspace time index one prefix at a time.
func (l *LogDB) logWorkspaces(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []string
	err := l.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bIdxWsTime).Cursor()
		for k, _ := c.First(); k != nil; {
			i := bytes.IndexByte(k, sep)
			if i < 0 {
				k, _ = c.Next()
				continue
			}
			out = append(out, string(k[:i]))
			k, _ = c.Seek(append(bytes.Clone(k[:i]), sep+1))
		}
		return nil
	})
	return out, err
}

// deleteExecution removes one execution and all its index entries (not its rollup
// contribution). It reports whether the record existed.
func deleteExecution(tx *bbolt.Tx, id string) (bool, error) {
	execs := tx.Bucket(bExecutions)
	v := execs.Get([]byte(id))
	if v == nil {
		return false, nil
	}
	h, err := decodeHead(v)
	if err != nil {
		return false, fmt.Errorf("execution %s: %w", id, err)
	}
	for _, d := range []struct {
		b []byte
		k []byte
	}{
		{bIdxWsTime, idxKey(h.WorkspaceID, h.StartedAt, id)},
		{bIdxWfTime, idxKey(h.WorkflowID, h.StartedAt, id)},
		{bIdxTime, timeKey(h.StartedAt, id)},
		{bIdxOpen, []byte(id)},
	} {
		if err := tx.Bucket(d.b).Delete(d.k); err != nil {
			return false, err
		}
	}
	if h.RunID != "" {
		if err := deleteRunIdx(tx.Bucket(bIdxRun), h, id); err != nil {
			return false, err
		}
	}
	return true, execs.Delete([]byte(id))
}
