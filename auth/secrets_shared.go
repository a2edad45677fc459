package auth

import (
	"context"
	"errors"
	"fmt"
)

// CheckStore keeps the master-key check value where every replica sharing one database
// sees it, instead of in one replica's data directory (store/postgres implements it).
type CheckStore interface {
	// MasterKeyCheck returns the stored check value, nil when there is none yet.
	MasterKeyCheck(ctx context.Context) ([]byte, error)
	// InitMasterKeyCheck stores check unless a value is already stored, and returns the
	// value stored.
	InitMasterKeyCheck(ctx context.Context, check []byte) ([]byte, error)
}

// ErrNoSharedMasterKey means the database already holds secrets but this replica was given
// no master key: creating one would seal new secrets the other replicas cannot open and
// make every stored key fail here.
var ErrNoSharedMasterKey = errors.New("the database holds secrets sealed under a master key, but this replica has none " +
	"(STEELENGINE_MASTER_KEY is not set and the data directory has no master.key): give every replica the same master key")

// LoadSharedSecrets is LoadSecrets for replicas sharing a database: the master key comes
// from envMasterKey or dataDir's key file as usual (created there only while the database
// holds no secrets at all: hasSecrets false and no check stored), and the check value is
// verified against, or on first start written to, cs. A replica with a different key gets
// ErrWrongMasterKey; one without a key on a database that has secrets gets
// ErrNoSharedMasterKey.
func LoadSharedSecrets(ctx context.Context, dataDir, envMasterKey string, cs CheckStore, hasSecrets bool) (*Secrets, error) {
	check, err := cs.MasterKeyCheck(ctx)
	if err != nil {
		return nil, err
	}
	if (check != nil || hasSecrets) && !HasMasterKey(dataDir, envMasterKey) {
		return nil, ErrNoSharedMasterKey
	}
	master, err := loadMasterKey(dataDir, envMasterKey)
	if err != nil {
		return nil, err
	}
	s, err := newSecrets(master)
	if err != nil {
		return nil, err
	}
	if check == nil {
		ct, err := s.Seal(checkFile, []byte(checkPlain))
		if err != nil {
			return nil, err
		}
		if check, err = cs.InitMasterKeyCheck(ctx, ct); err != nil {
			return nil, err
		}
	}
	if plain, err := s.Open(checkFile, check); err != nil || string(plain) != checkPlain {
		return nil, fmt.Errorf("the database's secrets were sealed under another master key, and every replica must use the same one: %w", ErrWrongMasterKey)
	}
	return s, nil
}
