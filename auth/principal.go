package auth

import (
	"fmt"
	"net/http"
	"time"

	"github.com/steelengine/steelengine/store"
)

// Transports a principal can arrive through; kept with a key's last use.
const (
	TransportHTTP = "http"
	TransportMCP  = "mcp"
)

// Principal is who is calling: an API key, a dashboard session, or the local operator
// (the CLI working on the data directory). It is a snapshot for one request; access
// is always decided by Authorize against current state.
type Principal struct {
	KeyID   string
	KeyType store.KeyType // "" for sessions and the operator
	// UserID is the acting user: the owner of a personal key or a session's user.
	UserID      string
	WorkspaceID string // workspace keys
	OrgID       string // organization keys
	Level       store.Level
	Workflows   []string      // workspace keys narrowed to these workflows
	Grants      []store.Grant // organization keys
	Session     bool
	// InstanceAdmin is set for sessions of instance administrators.
	InstanceAdmin bool
	Transport     string
	// Rate is the key's rate-limit state after this request (zero for sessions).
	Rate RateState

	operator bool
	// sessionDigest names the session a session principal came from (kept by a
	// password change, which ends the user's other sessions).
	sessionDigest []byte
	// epoch is the store's auth epoch when the principal was resolved; a decision
	// computed from an older snapshot is not cached under a newer epoch.
	epoch uint64
}

// RateState is what the X-RateLimit-* headers report.
type RateState struct {
	Limit     int
	Remaining int
	Reset     time.Time
}

var operatorPrincipal = &Principal{operator: true, Level: store.LevelAdmin}

// Operator is the principal of the local operator: the CLI with the data directory in
// hand, which may do anything.
func Operator() *Principal { return operatorPrincipal }

// IsOperator reports whether p is the local operator.
func (p *Principal) IsOperator() bool { return p != nil && p.operator }

// AuthType names the principal's kind for usage reports: personal, workspace,
// organization, session or operator.
func (p *Principal) AuthType() string {
	switch {
	case p.operator:
		return "operator"
	case p.Session:
		return "session"
	}
	return string(p.KeyType)
}

// Target is what access is asked for: a workflow, a workspace or an organization.
type Target struct {
	Kind TargetKind
	ID   string
}

// TargetKind says what a Target names.
type TargetKind uint8

const (
	TargetWorkflow TargetKind = iota + 1
	TargetWorkspace
	TargetOrg
)

// WorkflowTarget names a workflow.
func WorkflowTarget(id string) Target { return Target{TargetWorkflow, id} }

// WorkspaceTarget names a workspace.
func WorkspaceTarget(id string) Target { return Target{TargetWorkspace, id} }

// OrgTarget names an organization (for managing it and its keys).
func OrgTarget(id string) Target { return Target{TargetOrg, id} }

// Error is an access failure with the HTTP status and the code both front doors send.
type Error struct {
	Status  int
	Code    string
	Message string
	// Field names the request field at fault, for 400s.
	Field string
	// RetryAfter and Rate are set on 429.
	RetryAfter time.Duration
	Rate       RateState
	// reason is kept for the audit trail and never sent.
	reason string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// InvalidKeyMessage is the one message every 401 carries, whatever the reason.
const InvalidKeyMessage = "Invalid or missing API key"

func errInvalidKey(reason string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: "invalid_api_key", Message: InvalidKeyMessage, reason: reason}
}

// ErrUnauthenticated is the 401 for requests that carry no credentials at all.
func ErrUnauthenticated() *Error { return errInvalidKey("missing") }

func errForbidden() *Error {
	return &Error{Status: http.StatusForbidden, Code: "forbidden", Message: "This key does not have access to this resource"}
}

func errPersonalKeysDisabled() *Error {
	return &Error{Status: http.StatusForbidden, Code: "personal_keys_disabled", Message: "Personal API keys are disabled for this workspace"}
}

func errNotFound(kind string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Message: kind + " not found"}
}
