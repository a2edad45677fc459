package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/steelengine/steelengine/core"
)

// Backups of the running instance (instance administrators and the operator; the
// master key only for the operator), streamed as one tar archive.
func init() {
	routeGroups = append(routeGroups, func(a *API) {
		a.handle("GET /api/admin/backup", a.backup)
	})
}

func (a *API) backup(w http.ResponseWriter, r *http.Request) {
	p, ok := a.principal(w, r)
	if !ok {
		return
	}
	include, _ := strconv.ParseBool(r.URL.Query().Get("includeMasterKey"))
	cw := &countingWriter{w: w}
	h := w.Header()
	h.Set("Content-Type", "application/x-tar")
	h.Set("Content-Disposition", `attachment; filename="steelengine-backup-`+time.Now().UTC().Format("20060102T150405Z")+`.tar"`)
	h.Set("Cache-Control", "no-store")
	if _, err := a.deps.Service.Backup(r.Context(), p, cw, core.BackupOptions{IncludeMasterKey: include}); err != nil {
		if cw.n == 0 {
			h.Del("Content-Disposition")
			writeError(w, r, err)
			return
		}
		// Half an archive must not look like a whole one: cut the connection.
		a.log.Error("backup failed mid-stream", "err", err)
		panic(http.ErrAbortHandler)
	}
}

type countingWriter struct {
	w http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
