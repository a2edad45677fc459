package store

import (
	"context"
	"errors"
	"io"
	"time"
)

// ArchiveFormat names the archive format in its manifest.
const ArchiveFormat = "steelengine-backup"

// Manifest describes a backup archive.
type Manifest struct {
	Format        string                 `json:"format"`
	FormatVersion int                    `json:"formatVersion"`
	SchemaVersion uint32                 `json:"schemaVersion"`
	CreatedAt     time.Time              `json:"createdAt"`
	Version       string                 `json:"version"`
	Files         map[string]ArchiveFile `json:"files"`
}

// ArchiveFile is one file of an archive.
type ArchiveFile struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Has reports whether the archive holds the named file.
func (m *Manifest) Has(name string) bool { _, ok := m.Files[name]; return ok }

// ErrBadArchive means a backup archive is not one, is truncated or fails its checksums.
var ErrBadArchive = errors.New("not a complete SteelEngine backup archive")

// Archiver is a store that writes its own backup archive (bbolt: both files as of one
// read transaction each). extra adds small files by name; version is the appliance's
// version, recorded in the manifest.
type Archiver interface {
	WriteArchive(ctx context.Context, w io.Writer, version string, extra map[string][]byte) (*Manifest, error)
}
