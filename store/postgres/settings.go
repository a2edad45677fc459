package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// settingMasterKeyCheck names the master-key check value in the settings table.
const settingMasterKeyCheck = "master_key_check"

// MasterKeyCheck returns the master-key check value the replicas share, nil when none is
// stored yet (auth.CheckStore).
func (s *Store) MasterKeyCheck(ctx context.Context) ([]byte, error) {
	var v []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, settingMasterKeyCheck).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: read master key check: %w", err)
	}
	return v, nil
}

// InitMasterKeyCheck stores check unless a value is stored already, and returns the one
// stored: of two replicas starting at once on an empty database, the first insert wins
// and the other verifies its key against it.
func (s *Store) InitMasterKeyCheck(ctx context.Context, check []byte) ([]byte, error) {
	if _, err := s.pool.Exec(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
		settingMasterKeyCheck, check); err != nil {
		return nil, fmt.Errorf("postgres: store master key check: %w", err)
	}
	v, err := s.MasterKeyCheck(ctx)
	if err == nil && v == nil {
		err = errors.New("postgres: master key check vanished after insert")
	}
	return v, err
}
