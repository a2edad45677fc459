package auth

import (
	"context"
	"sync"
)

// An access note carries, for one request, the id of the stored key its credential
// matched, so that the access log can name the key without any front door passing it
// along (and never the key itself).
type accessNote struct {
	mu    sync.Mutex
	keyID string
}

type accessNoteKey struct{}

// WithAccessNote returns a context in which Resolve records the matched key's id, and
// a function that reads it ("" when no stored key matched).
func WithAccessNote(ctx context.Context) (context.Context, func() string) {
	n := &accessNote{}
	return context.WithValue(ctx, accessNoteKey{}, n), func() string {
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.keyID
	}
}

func noteKeyID(ctx context.Context, id string) {
	if n, ok := ctx.Value(accessNoteKey{}).(*accessNote); ok {
		n.mu.Lock()
		n.keyID = id
		n.mu.Unlock()
	}
}
