package mcp

import (
	"crypto/rand"
	"errors"
	"net/http"
	"sync"

	"github.com/mark3labs/mcp-go/server"
	"github.com/steelengine/steelengine/auth"
)

// sessions binds each MCP session of one endpoint to the key that opened it. mcp-go
// would accept any well-formed Mcp-Session-Id, and a session carries server-initiated
// messages (progress, list changes, replies on its GET stream) — so another key
// presenting the id must find nothing there. It is mcp-go's SessionIdManager (ids,
// validation, termination by DELETE or the idle sweeper) and the owner table the
// HTTP middleware consults.
type sessions struct {
	owners sync.Map // session id → owner (see ownerOf)
}

var errUnknownSession = errors.New("unknown MCP session")

// Generate makes an unguessable id; the middleware binds it when the initialize
// response carries it.
func (s *sessions) Generate() string {
	return "mcp-session-" + rand.Text()
}

// Validate refuses ids that no key opened here (unknown, ended, or minted by a GET
// that never returned them).
func (s *sessions) Validate(id string) (isTerminated bool, err error) {
	if _, ok := s.owners.Load(id); !ok {
		return false, errUnknownSession
	}
	return false, nil
}

// Terminate forgets the id (DELETE by its owner, or idle expiry).
func (s *sessions) Terminate(id string) (isNotAllowed bool, err error) {
	s.owners.Delete(id)
	return false, nil
}

// ownedBy reports whether owner opened session id.
func (s *sessions) ownedBy(id, owner string) bool {
	v, ok := s.owners.Load(id)
	return ok && v.(string) == owner
}

// ownerOf names who a session belongs to: the API key (a rotated successor is a new
// key and opens its own sessions), or the user for a keyless principal.
func ownerOf(p *auth.Principal) string {
	if p.KeyID != "" {
		return "key:" + p.KeyID
	}
	return "user:" + p.UserID
}

// binding records the session id an initialize response hands out as owner's,
// before the response (and so the id) reaches the client.
type binding struct {
	http.ResponseWriter
	s     *sessions
	owner string
	once  sync.Once // a stream may be written from mcp-go's heartbeat goroutine too
}

func (b *binding) bind() {
	b.once.Do(func() {
		if id := b.Header().Get(server.HeaderKeySessionID); id != "" {
			b.s.owners.LoadOrStore(id, b.owner)
		}
	})
}

func (b *binding) WriteHeader(code int) {
	b.bind()
	b.ResponseWriter.WriteHeader(code)
}

func (b *binding) Write(p []byte) (int, error) {
	b.bind()
	return b.ResponseWriter.Write(p)
}

// Flush keeps streaming (SSE) working through the wrapper.
func (b *binding) Flush() {
	b.bind()
	if f, ok := b.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (write deadlines).
func (b *binding) Unwrap() http.ResponseWriter { return b.ResponseWriter }
