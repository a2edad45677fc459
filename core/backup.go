package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/store"
)

// BackupOptions says what a backup carries besides the two databases.
type BackupOptions struct {
	// IncludeMasterKey puts the master key into the archive: only the local operator may
	// ask (whoever holds it can read every sealed secret).
	IncludeMasterKey bool
}

// Backup writes a backup archive of the running appliance to w: both databases as of
// one read transaction each, the sealed master-key check, and the master key when
// asked. Instance administrators and the operator only.
func (s *Service) Backup(ctx context.Context, p *auth.Principal, w io.Writer, opts BackupOptions) (*store.Manifest, error) {
	if err := s.az.RequireInstanceAdmin(ctx, p); err != nil {
		return nil, err
	}
	if opts.IncludeMasterKey && !p.IsOperator() {
		return nil, newError(http.StatusForbidden, "forbidden", "Only the local operator may put the master key into a backup")
	}
	ar, ok := s.st.(store.Archiver)
	if !ok {
		return nil, newError(http.StatusNotImplemented, "backup_unsupported",
			"This store cannot write a backup archive; back up its database with the database's own tools")
	}
	extra := map[string][]byte{}
	check, err := os.ReadFile(filepath.Join(s.cfg.DataDir, auth.CheckFile))
	switch {
	case err == nil:
		extra[auth.CheckFile] = check
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read master key check: %w", err)
	}
	if opts.IncludeMasterKey {
		extra[auth.MasterKeyFile] = []byte(s.sec.MasterKey() + "\n")
	}
	return ar.WriteArchive(ctx, w, s.cfg.Version, extra)
}
