package store

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
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
		err := l.db.Update(func(tx *bolt.Tx) error {
			execs, tIdx := tx.Bucket(bExecutions), tx.Bucket(bIdxTime)
			wsIdx, wfIdx, runIdx := tx.Bucket(bIdxWsTime), tx.Bucket(bIdxWfTime), tx.Bucket(bIdxRun)
			var keys [][]byte
			c := tIdx.Cursor()
			for k, _ := c.First(); k != nil && len(keys) < pruneChunk; k, _ = c.Next() {
				if len(k) < 8 || bytes.Compare(k[:8], limit) >= 0 {
					break
				}
				keys = append(keys, bytes.Clone(k))
			}
			for _, k := range keys {
				id := string(k[8:])
				if v := execs.Get(k[8:]); v != nil {
					h, err := decodeHead(v)
					if err != nil {
						return fmt.Errorf("execution %s: %w", id, err)
					}
					if err := wsIdx.Delete(idxKey(h.WorkspaceID, h.StartedAt, id)); err != nil {
						return err
					}
					if err := wfIdx.Delete(idxKey(h.WorkflowID, h.StartedAt, id)); err != nil {
						return err
					}
					if h.RunID != "" {
						if err := deleteRunIdx(runIdx, h, id); err != nil {
							return err
						}
					}
					if err := execs.Delete(k[8:]); err != nil {
						return err
					}
					n++
				}
				if err := tIdx.Delete(k); err != nil {
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
