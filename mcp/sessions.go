package mcp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/server"
	"github.com/steelengine/steelengine/auth"
)

// sessions issues and checks the MCP session ids of one endpoint. mcp-go would accept
// any well-formed Mcp-Session-Id, and a session carries server-initiated messages
// (progress, list changes, replies on its GET stream), so an id must be good only for
// the key that opened it. An id therefore names its owner (the key, or the user of a
// keyless principal), its endpoint and when it was issued, signed with a key every
// replica derives from the master key: whichever replica a load balancer sends a request
// to accepts the owner's session and nobody else's, without a shared session table or
// sticky routing. mcp-go needs nothing else from a session across requests (a request
// of a session this process never saw is served by an ephemeral one). An id ends on the
// replica that saw its DELETE or its idle expiry, and everywhere a day after it was
// issued; the client then opens a new session, as a 404 tells it to.
type sessions struct {
	endpoint string
	sign     func(string) []byte // HMAC-SHA-256 under the shared key
	ended    sync.Map            // id → time it ended here
	ends     atomic.Int64
}

// sessionMaxAge bounds an id's life on every replica (and how long ended ids are kept).
const sessionMaxAge = 24 * time.Hour

var errUnknownSession = errors.New("unknown MCP session")

// newSessions signs ids with sec's HMAC; without sec (tests), with a key of this
// process, so that its sessions are good here only.
func newSessions(endpoint string, sec *auth.Secrets) *sessions {
	s := &sessions{endpoint: endpoint}
	if sec != nil {
		s.sign = sec.Digest
	} else {
		key := make([]byte, 32)
		rand.Read(key)
		s.sign = func(v string) []byte { m := hmac.New(sha256.New, key); m.Write([]byte(v)); return m.Sum(nil) }
	}
	return s
}

// ResolveSessionIdManager is mcp-go's per-request hook: the manager it returns knows the
// request's owner (the middleware put the principal in the request's context). The idle
// sweeper asks with no request, and only ever terminates.
func (s *sessions) ResolveSessionIdManager(r *http.Request) server.SessionIdManager {
	m := ownerSessions{s: s}
	if r != nil {
		if p := principalFrom(r.Context()); p != nil {
			m.owner = ownerOf(p)
		}
	}
	return m
}

// issue makes owner's id: mcp-session-<issued, base 36>-<random>.<signature>.
func (s *sessions) issue(owner string, now time.Time) string {
	head := strconv.FormatInt(now.Unix(), 36) + "-" + strings.ToLower(rand.Text())
	return "mcp-session-" + head + "." + s.signature(owner, head)
}

func (s *sessions) signature(owner, head string) string {
	return base64.RawURLEncoding.EncodeToString(s.sign("mcp-session|" + s.endpoint + "|" + owner + "|" + head)[:18])
}

// ownedBy reports whether id is a live session owner opened on this endpoint.
func (s *sessions) ownedBy(id, owner string, now time.Time) bool {
	rest, ok := strings.CutPrefix(id, "mcp-session-")
	if !ok || owner == "" {
		return false
	}
	head, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return false
	}
	if !hmac.Equal([]byte(sig), []byte(s.signature(owner, head))) {
		return false
	}
	issuedStr, _, _ := strings.Cut(head, "-")
	issued, err := strconv.ParseInt(issuedStr, 36, 64)
	if err != nil || now.Sub(time.Unix(issued, 0)) > sessionMaxAge {
		return false
	}
	_, ended := s.ended.Load(id)
	return !ended
}

// end forgets id here, and now and then the ended ids past sessionMaxAge (refused by
// their age anyway).
func (s *sessions) end(id string, now time.Time) {
	s.ended.Store(id, now)
	if s.ends.Add(1)%256 == 0 {
		s.ended.Range(func(k, v any) bool {
			if now.Sub(v.(time.Time)) > sessionMaxAge {
				s.ended.Delete(k)
			}
			return true
		})
	}
}

// ownerSessions is mcp-go's SessionIdManager for one request's owner.
type ownerSessions struct {
	s     *sessions
	owner string
}

func (m ownerSessions) Generate() string { return m.s.issue(m.owner, time.Now()) }

func (m ownerSessions) Validate(id string) (isTerminated bool, err error) {
	if !m.s.ownedBy(id, m.owner, time.Now()) {
		return false, errUnknownSession
	}
	return false, nil
}

// Terminate ends id (DELETE by its owner, which the middleware checked, or idle expiry).
func (m ownerSessions) Terminate(id string) (isNotAllowed bool, err error) {
	m.s.end(id, time.Now())
	return false, nil
}

// ownerOf names who a session belongs to: the API key (a rotated successor is a new
// key and opens its own sessions), or the user for a keyless principal.
func ownerOf(p *auth.Principal) string {
	if p.KeyID != "" {
		return "key:" + p.KeyID
	}
	return "user:" + p.UserID
}
