package bolt

import (
	"encoding/json"
	"fmt"

	bbolt "go.etcd.io/bbolt"
)

// listAll decodes every value of b, in key order (ids are ULIDs, so oldest first).
func listAll[T any](b *bbolt.Bucket) ([]*T, error) {
	var out []*T
	err := b.ForEach(func(k, v []byte) error {
		t := new(T)
		if err := json.Unmarshal(v, t); err != nil {
			return fmt.Errorf("decode %s/%s: %w", "record", k, err)
		}
		out = append(out, t)
		return nil
	})
	return out, err
}

// idsUnder returns the suffixes stored under prefix in an index bucket.
func idsUnder(b *bbolt.Bucket, prefix string) ([]string, error) {
	var ids []string
	err := scanPrefix(b, prefix, func(suffix, _ []byte) error {
		ids = append(ids, string(suffix))
		return nil
	})
	return ids, err
}
