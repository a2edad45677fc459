package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/bolt"
)

// ErrMasterKeyNeeded: a backup without its master key was restored without one.
var ErrMasterKeyNeeded = errors.New("the backup does not carry the master key: supply the master key of the instance it came from with --master-key or STEELENGINE_MASTER_KEY (or make backups with --include-master-key)")

// ErrMasterKeyMismatch: the master key given does not open the backup's secrets.
var ErrMasterKeyMismatch = errors.New("the master key does not open this backup's API keys: supply the master key of the instance the backup came from (--master-key or STEELENGINE_MASTER_KEY)")

// Restore puts a backup archive into dataDir, which no process may hold. The master
// key is masterKey (flag or environment) or else the one the archive carries; it must
// open the archive's sealed secrets, or nothing is restored — a restored instance
// answers the same keys, never a fresh master key over old sealed data. A key the
// archive carries is installed as dataDir's master.key; one given by flag or
// environment is not written anywhere (start the server with it the same way).
func Restore(ctx context.Context, r io.Reader, dataDir, masterKey string) (*store.Manifest, error) {
	return bolt.RestoreArchive(ctx, r, dataDir, func(staging string, m *store.Manifest) error {
		keyFile := filepath.Join(staging, auth.MasterKeyFile)
		if masterKey == "" {
			if !m.Has(auth.MasterKeyFile) {
				return ErrMasterKeyNeeded
			}
			b, err := os.ReadFile(keyFile)
			if err != nil {
				return fmt.Errorf("read the archive's master key: %w", err)
			}
			masterKey = string(b)
		} else if err := os.Remove(keyFile); err != nil && !os.IsNotExist(err) {
			return err
		}
		sec, err := auth.SecretsFromKey(masterKey)
		if err != nil {
			return err
		}
		if m.Has(auth.CheckFile) {
			if err := sec.Verify(staging); err != nil {
				if errors.Is(err, auth.ErrWrongMasterKey) {
					return ErrMasterKeyMismatch
				}
				return err
			}
		}
		if err := unsealOneKey(ctx, staging, sec); err != nil {
			return err
		}
		// From now on the restored directory refuses any other key at start.
		return sec.Verify(staging)
	})
}

// unsealOneKey proves sec opens the staged core.db's keys by decrypting one.
func unsealOneKey(ctx context.Context, dir string, sec *auth.Secrets) error {
	st, err := bolt.Open(ctx, dir, bolt.Options{})
	if err != nil {
		return fmt.Errorf("open the backup: %w", err)
	}
	defer st.Close()
	ks, err := st.ListKeys(ctx, store.KeyFilter{IncludeRevoked: true})
	if err != nil {
		return fmt.Errorf("read the backup's keys: %w", err)
	}
	if len(ks) == 0 {
		return nil
	}
	if _, err := sec.Open(ks[0].ID, ks[0].Ciphertext); err != nil {
		return ErrMasterKeyMismatch
	}
	return nil
}
