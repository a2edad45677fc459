package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Sim's MEMORY constants.
const (
	defaultSlidingWindow       = 10
	defaultSlidingWindowTokens = 4000
	maxConversationIDLength    = 255
	maxMemoryMessageBytes      = 100 << 10
)

// agentMemory is one agent block's view of its conversation.
type agentMemory struct {
	x      *execCtx
	kind   string // "" (none) | conversation | sliding_window | sliding_window_tokens
	id     string
	stored []MemoryMessage
	seed   []MemoryMessage // stored when the conversation is new
	append []MemoryMessage // this run's new turns
}

func (x *execCtx) openMemory(ctx context.Context) (*agentMemory, error) {
	m := &agentMemory{x: x, kind: x.str("memoryType")}
	switch m.kind {
	case "", "none":
		m.kind = ""
		return m, nil
	case "conversation", "sliding_window", "sliding_window_tokens":
	default:
		return nil, fmt.Errorf("unknown memory type %q", m.kind)
	}
	m.id = strings.TrimSpace(x.str("conversationId"))
	if m.id == "" {
		return nil, errors.New("Conversation ID is required")
	}
	if len(m.id) > maxConversationIDLength {
		return nil, fmt.Errorf("Conversation ID too long (max %d characters)", maxConversationIDLength)
	}
	if x.r.in.Memory == nil {
		return nil, errors.New("agent memory is not available for this run")
	}
	var err error
	if m.stored, err = x.r.in.Memory.Load(ctx, m.id); err != nil {
		return nil, fmt.Errorf("load conversation memory: %w", err)
	}
	return m, nil
}

// window applies the block's sliding window to msgs.
func (m *agentMemory) window(msgs []MemoryMessage) []MemoryMessage {
	switch m.kind {
	case "sliding_window":
		n := toInt(m.x.input["slidingWindowSize"], defaultSlidingWindow)
		if n <= 0 {
			n = defaultSlidingWindow
		}
		if len(msgs) > n {
			return msgs[len(msgs)-n:]
		}
	case "sliding_window_tokens":
		budget := toInt(m.x.input["slidingWindowTokens"], defaultSlidingWindowTokens)
		if budget <= 0 {
			budget = defaultSlidingWindowTokens
		}
		used, i := 0, len(msgs)
		for i > 0 {
			t := (len(msgs[i-1].Content) + 3) / 4 // about four bytes a token
			if used+t > budget && i < len(msgs) {
				break
			}
			used += t
			i--
		}
		return msgs[i:]
	}
	return msgs
}

// messages builds the conversation as Sim does with memory: a new conversation is
// seeded with the block's messages; an existing one supplies the history (windowed)
// and this run's latest user message is added to it. System messages come first.
func (m *agentMemory) messages(in agentInput) []llmMessage {
	if m.kind == "" {
		msgs := append(append([]llmMessage(nil), in.system...), in.convo...)
		if in.user != nil {
			msgs = append(msgs, *in.user)
		}
		return msgs
	}
	var convo []llmMessage
	if len(m.stored) == 0 && len(in.convo) > 0 {
		convo = in.convo
		for _, c := range in.convo {
			m.seed = append(m.seed, MemoryMessage{Role: c.Role, Content: c.Content})
		}
		m.seed = m.window(m.seed)
	} else {
		for _, s := range m.window(m.stored) {
			convo = append(convo, llmMessage{Role: s.Role, Content: s.Content})
		}
		if len(m.stored) > 0 {
			for i := len(in.convo) - 1; i >= 0; i-- {
				if in.convo[i].Role == "user" {
					convo = append(convo, in.convo[i])
					m.append = append(m.append, MemoryMessage{Role: "user", Content: in.convo[i].Content})
					break
				}
			}
		}
	}
	if in.user != nil {
		convo = append(convo, *in.user)
		m.append = append(m.append, MemoryMessage{Role: "user", Content: in.user.Content})
	}
	return append(append([]llmMessage(nil), in.system...), convo...)
}

// save stores this run's turns and the reply (when it is text).
func (m *agentMemory) save(ctx context.Context, reply string) error {
	if m.kind == "" {
		return nil
	}
	turns := m.append
	if strings.TrimSpace(reply) != "" {
		turns = append(turns, MemoryMessage{Role: "assistant", Content: reply})
	}
	for _, t := range append(append([]MemoryMessage(nil), m.seed...), turns...) {
		if len(t.Content) > maxMemoryMessageBytes {
			return fmt.Errorf("Message content too large for memory (%d bytes, max %d)", len(t.Content), maxMemoryMessageBytes)
		}
	}
	err := m.x.r.in.Memory.Update(ctx, m.id, func(old []MemoryMessage) []MemoryMessage {
		if len(old) == 0 {
			old = m.seed
		}
		return append(append([]MemoryMessage(nil), old...), turns...)
	})
	if err != nil {
		return fmt.Errorf("save conversation memory: %w", err)
	}
	return nil
}
