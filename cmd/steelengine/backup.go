package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/auth"
	"github.com/steelengine/steelengine/store"
	"github.com/steelengine/steelengine/store/bolt"
)

func backupCommand() *cli.Command {
	return &cli.Command{
		Name:  "backup",
		Usage: "write a backup archive (both databases, checksums; the master key only when asked) — also while the server runs",
		Description: "steelengine backup DIR writes DIR/steelengine-backup-TIME.tar; --out FILE names the file (- for stdout).\n" +
			"Without --include-master-key the archive does not carry the master key: keep that key safe, restore needs it.",
		ArgsUsage: "[DIR]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "archive file to write (- for stdout)"},
			&cli.BoolFlag{Name: "include-master-key", Usage: "put the master key into the archive (whoever has the archive can then read every sealed secret)"},
		},
		Action: func(c *cli.Context) error {
			target, err := backupTarget(c)
			if err != nil {
				return err
			}
			return withAPI(c, func(cl *apiClient) error {
				q := url.Values{}
				if c.Bool("include-master-key") {
					q.Set("includeMasterKey", "true")
				}
				resp, err := cl.request(c.Context, http.MethodGet, "/api/admin/backup", q, nil)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				if target == "-" {
					_, err := io.Copy(os.Stdout, resp.Body)
					return err
				}
				m, err := writeArchive(c, target, resp.Body)
				if err != nil {
					return err
				}
				withKey := m.Has(auth.MasterKeyFile)
				out := obj{"backup": target, "createdAt": m.CreatedAt, "schemaVersion": m.SchemaVersion, "version": m.Version,
					"files": m.Files, "includesMasterKey": withKey}
				return printOut(c, out, func(w io.Writer) {
					fmt.Fprintf(w, "backup written to %s (core.db %d bytes, logs.db %d bytes)\n", target, m.Files["core.db"].Size, m.Files["logs.db"].Size)
					if withKey {
						fmt.Fprintln(w, "it carries the master key: keep it as safe as the master key itself")
					} else {
						fmt.Fprintln(w, "it does not carry the master key: restore needs it (--master-key or STEELENGINE_MASTER_KEY)")
					}
				})
			})
		},
	}
}

// backupTarget is the archive path: --out FILE, or a timestamped file in DIR.
func backupTarget(c *cli.Context) (string, error) {
	out := c.String("out")
	switch {
	case out != "" && c.NArg() > 0:
		return "", usagef("backup takes DIR or --out FILE, not both")
	case c.NArg() > 1:
		return "", usagef("backup takes one DIR argument")
	case out != "":
		return out, nil
	case c.NArg() == 1:
		dir := c.Args().First()
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("create backup directory: %w", err)
		}
		return filepath.Join(dir, "steelengine-backup-"+time.Now().UTC().Format("20060102T150405Z")+".tar"), nil
	}
	return "", usagef("backup needs a DIR argument or --out FILE")
}

// writeArchive stores the archive as path (0600) only once it is complete and matches
// its manifest.
func writeArchive(c *cli.Context, path string, r io.Reader) (*store.Manifest, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return nil, fmt.Errorf("receive backup: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	m, err := bolt.VerifyArchive(c.Context, f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("backup is incomplete: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return m, nil
}

func restoreCommand() *cli.Command {
	return &cli.Command{
		Name:      "restore",
		Usage:     "replace the data directory's files with a backup archive (the server must be stopped)",
		ArgsUsage: "ARCHIVE",
		Description: "The master key comes from --master-key / STEELENGINE_MASTER_KEY or, for archives made with\n" +
			"--include-master-key, from the archive; restore refuses a key that does not open the archive's API keys.",
		Flags: []cli.Flag{&cli.StringFlag{Name: "from", Usage: "the archive (same as the ARCHIVE argument)"}},
		Action: func(c *cli.Context) error {
			if err := boltOnly(c, "restore a pg_dump with pg_restore"); err != nil {
				return err
			}
			from := c.String("from")
			switch {
			case from != "" && c.NArg() > 0, c.NArg() > 1:
				return usagef("restore takes one ARCHIVE")
			case c.NArg() == 1:
				from = c.Args().First()
			case from == "":
				return usagef("restore needs an ARCHIVE argument")
			}
			f, err := os.Open(from)
			if err != nil {
				return fmt.Errorf("open backup: %w", err)
			}
			defer f.Close()
			dir := c.String("data-dir")
			given := c.String("master-key")
			m, err := app.Restore(c.Context, f, dir, given)
			if err != nil {
				return err
			}
			out := obj{"restored": from, "dataDir": dir, "createdAt": m.CreatedAt, "version": m.Version, "masterKeyFromArchive": given == ""}
			return printOut(c, out, func(w io.Writer) {
				fmt.Fprintf(w, "restored %s (backup of %s, version %s) into %s\n", from, m.CreatedAt.Format(time.RFC3339), m.Version, dir)
				if given == "" {
					fmt.Fprintf(w, "master key: from the archive, installed as %s\n", filepath.Join(dir, auth.MasterKeyFile))
				} else {
					fmt.Fprintln(w, "master key: as given; start the server with the same --master-key or STEELENGINE_MASTER_KEY")
				}
			})
		},
	}
}
