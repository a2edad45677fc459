// Package store defines SteelEngine's persistence: the records (types.go), the errors
// every backend returns, and the interfaces the use cases in core and auth depend on,
// one per domain, shaped by those use cases rather than by a database. Backends live
// below: store/bolt (the default, embedded bbolt files in the data directory) and
// store/postgres (several replicas on one PostgreSQL database). One conformance suite,
// store/storetest, runs against every backend and is the interfaces' real contract.
package store

import (
	"context"
	"crypto/rand"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// Store is everything SteelEngine persists. Writes that belong together are one method
// (one transaction); reads that must be consistent with each other go through View.
type Store interface {
	Users
	Sessions
	Orgs
	Workspaces
	Workflows
	Keys
	Audit
	Invitations
	MCPServers
	EnvVars
	Providers
	Conversations
	ExternalMCP
	Schedules
	PausedRuns
	OAuth

	// View runs fn in one consistent read (a read transaction).
	View(ctx context.Context, fn func(r Reader) error) error
	// Logs returns the execution log.
	Logs() Logs
	// AuthEpoch is a counter bumped, after commit, by every write that can change an
	// access decision. A cached decision stamped with an older epoch is stale.
	AuthEpoch() uint64
	// WorkflowEpoch is bumped by every change to workflows and deployments (tool lists,
	// plan caches).
	WorkflowEpoch() uint64
	// ConfigEpoch is bumped by every change to what a run reads before it starts:
	// environment variables, model providers and external MCP servers (run caches).
	ConfigEpoch() uint64
	// HasKeys reports whether any API key is stored (sealed under the master key).
	HasKeys(ctx context.Context) (bool, error)
	// Ping answers whether the store serves a read and takes writes.
	Ping(ctx context.Context) error
	// Close flushes pending log writes and releases the backend.
	Close() error
}

// Reader reads inside one View: every call sees the same snapshot.
type Reader interface {
	// Invitations
	// Invitation returns the invitation with id (expired ones included).
	Invitation(id string) (*Invitation, error)

	// Keys and grants
	// Key returns the key with id, grants included.
	Key(id string) (*APIKey, error)

	// KeyByDigest returns the key whose HMAC digest is d.
	KeyByDigest(d []byte) (*APIKey, error)

	// Grants lists an organization key's grants.
	Grants(keyID string) ([]Grant, error)

	// KeysTargeting lists the ids of organization keys with a grant on targetID.
	KeysTargeting(targetID string) ([]string, error)

	// Keys lists keys matching f, oldest first.
	Keys(f KeyFilter) ([]*APIKey, error)

	// MCP server objects
	// MCPServer returns the MCP server object with id.
	MCPServer(id string) (*MCPServer, error)

	// OAuth
	// OAuthClient returns the client with id.
	OAuthClient(id string) (*OAuthClient, error)

	// OAuthGrant returns the grant with id.
	OAuthGrant(id string) (*OAuthGrant, error)

	// OAuthToken returns the token stored under digest.
	OAuthToken(digest []byte) (*OAuthToken, error)

	// Organizations
	// Org returns the organization with id.
	Org(id string) (*Org, error)

	// Orgs lists every organization.
	Orgs() ([]*Org, error)

	// OrgRole returns userID's role in orgID, or "" when not a member.
	OrgRole(orgID, userID string) (OrgRole, error)

	// OrgMembers lists the members of orgID.
	OrgMembers(orgID string) ([]OrgMember, error)

	// UserOrgs lists the ids of the organizations userID belongs to.
	UserOrgs(userID string) ([]string, error)

	// OrgWorkspaces lists the ids of the workspaces in orgID.
	OrgWorkspaces(orgID string) ([]string, error)

	// FindOrg returns the organization named by id or by unique name.
	FindOrg(ref string) (*Org, error)

	// Users
	// User returns the user with id.
	User(id string) (*User, error)

	// UserByEmail returns the user with that email, case-insensitively.
	UserByEmail(email string) (*User, error)

	// Users lists every user, oldest first.
	Users() ([]*User, error)

	// Workflows and deployed versions
	// Workflow returns the workflow with id.
	Workflow(id string) (*Workflow, error)

	// Workflows lists every workflow.
	Workflows() ([]*Workflow, error)

	// WorkspaceWorkflowIDs lists the ids of the workflows in wsID.
	WorkspaceWorkflowIDs(wsID string) ([]string, error)

	// WorkspaceWorkflows lists the workflows in wsID.
	WorkspaceWorkflows(wsID string) ([]*Workflow, error)

	// Deployment returns one deployed version of a workflow.
	Deployment(wfID string, version uint32) (*Deployment, error)

	// Deployments lists every stored version of a workflow, oldest first.
	Deployments(wfID string) ([]*Deployment, error)

	// Workspaces
	// Workspace returns the workspace with id.
	Workspace(id string) (*Workspace, error)

	// Workspaces lists every workspace.
	Workspaces() ([]*Workspace, error)

	// FindWorkspace returns the workspace named by id or by unique name.
	FindWorkspace(ref string) (*Workspace, error)

	// Membership returns userID's permission in wsID, or LevelNone when not a member.
	Membership(wsID, userID string) (Level, error)

	// WorkspaceMembers lists the members of wsID.
	WorkspaceMembers(wsID string) ([]WorkspaceMember, error)

	// UserWorkspaces lists the ids of the workspaces userID is a member of.
	UserWorkspaces(userID string) ([]string, error)
}

// NewID returns a random, URL-safe, time-ordered id: a lower-case ULID whose 80 random
// bits come straight from crypto/rand (not the monotonic source, which would make ids
// minted in the same millisecond guessable from each other).
func NewID() string {
	return strings.ToLower(ulid.MustNew(ulid.Timestamp(time.Now()), rand.Reader).String())
}

// IDTime is the time NewID made id at (millisecond precision), or false when id is not
// the form NewID makes. Any 26 characters of ULID alphabet parse, so the time of an id
// made elsewhere may be anything: a hint to narrow a search, never a fact to rely on.
func IDTime(id string) (time.Time, bool) {
	u, err := ulid.ParseStrict(id)
	if err != nil {
		return time.Time{}, false
	}
	return ulid.Time(u.Time()).UTC(), true
}
