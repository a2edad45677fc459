package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Epoch names. An epoch is a row of the epochs table; any name may be bumped, these two are
// the ones the caches read (the same meaning as store.Store's AuthEpoch and WorkflowEpoch).
const (
	EpochAuth      = "auth"
	EpochWorkflows = "workflows"
	// EpochConfig moves with environment variables, model providers and external MCP
	// servers (store.Store's ConfigEpoch).
	EpochConfig = "config"
)

// EpochChannel is the NOTIFY channel on which every bump is announced as "name:value".
const EpochChannel = "steelengine_epochs"

// CancelChannel is the NOTIFY channel on which a replica asks the others to cancel a run
// one of them holds (payload: the execution id; see Queue.Cancel and OnCancel).
const CancelChannel = "steelengine_cancel"

const listenerAppName = "steelengine-epochs"

// OnCancel registers fn to be told of the runs another replica asks to cancel (each
// replica cancels those it holds and ignores the rest). Heartbeat returns the asks made
// while the notification connection was down.
func (db *DB) OnCancel(fn func(execID string)) { db.onCancel.Store(&fn) }

// AuthEpoch is a counter bumped by every committed change that can alter an access
// decision, on any replica. A cached decision stamped with another value is stale.
func (db *DB) AuthEpoch() uint64 { return db.ep.auth.Load() }

// Listening reports whether changes made on other replicas reach this one by
// notification right now; while not, it polls the epochs every PollInterval.
func (db *DB) Listening() bool { return db.listener.healthy(db.opts.PollInterval) }

// WorkflowEpoch is bumped by every committed change to workflows and deployments (tool
// lists, plan caches), on any replica.
func (db *DB) WorkflowEpoch() uint64 { return db.ep.workflows.Load() }

// ConfigEpoch is a counter bumped by every committed change to environment variables,
// model providers or external MCP servers, on any replica.
func (db *DB) ConfigEpoch() uint64 { return db.ep.get(EpochConfig).Load() }

// Epoch is the current value of any epoch by name (0 for one never bumped).
func (db *DB) Epoch(name string) uint64 { return db.ep.get(name).Load() }

// BumpEpoch moves epoch name in tx and announces it to every replica when tx commits
// (NOTIFY is transactional: a rolled-back change announces nothing). Call it in the same
// transaction as the change. In a transaction from DB.InTx this replica moves at commit;
// in any other it moves when the notification comes back, a few milliseconds later.
// Bumping one name twice in one InTx transaction writes it once. A savepoint (tx.Begin)
// is any other transaction here.
func BumpEpoch(ctx context.Context, tx pgx.Tx, name string) error {
	et, tracked := tx.(*epochTx)
	if tracked {
		if _, done := et.bumped[name]; done {
			return nil
		}
	}
	var v int64
	err := tx.QueryRow(ctx, `WITH b AS (
			INSERT INTO epochs (name, value) VALUES ($1, 1)
			ON CONFLICT (name) DO UPDATE SET value = epochs.value + 1
			RETURNING value
		)
		SELECT value, pg_notify($2, $1 || ':' || value) FROM b`,
		name, EpochChannel).Scan(&v, nil)
	if err != nil {
		return fmt.Errorf("postgres: bump epoch %s: %w", name, err)
	}
	if tracked {
		if et.bumped == nil {
			et.bumped = make(map[string]uint64)
		}
		et.bumped[name] = uint64(v)
	}
	return nil
}

// epochTx remembers what BumpEpoch moved so InTx can move this replica at commit.
type epochTx struct {
	pgx.Tx
	bumped map[string]uint64
}

// epochs holds this replica's view. Values only grow: a notification, a poll and a local
// commit may report the same bump in any order, and the largest wins.
type epochs struct {
	auth, workflows atomic.Uint64
	others          sync.Map // name → *atomic.Uint64
}

func (e *epochs) get(name string) *atomic.Uint64 {
	switch name {
	case EpochAuth:
		return &e.auth
	case EpochWorkflows:
		return &e.workflows
	}
	if v, ok := e.others.Load(name); ok {
		return v.(*atomic.Uint64)
	}
	v, _ := e.others.LoadOrStore(name, new(atomic.Uint64))
	return v.(*atomic.Uint64)
}

func (e *epochs) observe(name string, v uint64) {
	a := e.get(name)
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// refresh re-reads every epoch: at open, after the listener (re)connects, and on the
// poller's timer while no notification connection is known to be alive.
func (e *epochs) refresh(ctx context.Context, q querier) error {
	rows, err := q.Query(ctx, "SELECT name, value FROM epochs")
	if err != nil {
		return fmt.Errorf("postgres: read epochs: %w", err)
	}
	var name string
	var v int64
	_, err = pgx.ForEachRow(rows, []any{&name, &v}, func() error {
		e.observe(name, uint64(v))
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: read epochs: %w", err)
	}
	return nil
}

func (e *epochs) notified(payload string) bool {
	i := strings.LastIndexByte(payload, ':')
	if i < 0 {
		return false
	}
	v, err := strconv.ParseUint(payload[i+1:], 10, 64)
	if err != nil {
		return false
	}
	e.observe(payload[:i], v)
	return true
}

// listenerState tells the poller whether notifications can be trusted right now.
type listenerState struct {
	started time.Time
	up      atomic.Bool
	heard   atomic.Int64 // time.Since(started) when the connection last proved alive
	pid     atomic.Uint32
}

func (l *listenerState) alive() { l.heard.Store(int64(time.Since(l.started))) }

// healthy: listening, and the connection answered within two poll intervals (a half-open
// TCP connection delivers nothing and reports no error until a write times out).
func (l *listenerState) healthy(interval time.Duration) bool {
	return l.up.Load() && time.Since(l.started)-time.Duration(l.heard.Load()) < 2*interval
}

// listen keeps one dedicated connection LISTENing on EpochChannel, reconnecting with
// jittered exponential backoff until ctx ends.
func (db *DB) listen(ctx context.Context, cfg *pgx.ConnConfig) {
	delay := db.opts.ReconnectMin
	for {
		began := time.Now()
		err := db.listenOnce(ctx, cfg)
		db.listener.up.Store(false)
		db.listener.pid.Store(0)
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) > db.opts.ReconnectMax {
			delay = db.opts.ReconnectMin // it worked for a while: this is a new outage
		}
		wait := delay/2 + rand.N(delay/2+1)
		db.opts.Logger.Warn("postgres: epoch listener down; polling epochs until it reconnects",
			"err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		delay = min(2*delay, db.opts.ReconnectMax)
	}
}

func (db *DB) listenOnce(ctx context.Context, cfg *pgx.ConnConfig) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+EpochChannel+"; LISTEN "+CancelChannel); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	db.listener.pid.Store(conn.PgConn().PID())
	// Bumps announced while nobody listened are in the table; LISTEN came first, so none
	// falls between this read and the first notification.
	if err := db.ep.refresh(ctx, conn); err != nil {
		return err
	}
	db.listener.alive()
	db.listener.up.Store(true)
	interval := db.opts.PollInterval
	for {
		wctx, cancel := context.WithTimeout(ctx, interval)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil && n.Channel == CancelChannel:
			if fn := db.onCancel.Load(); fn != nil {
				(*fn)(n.Payload)
			}
			db.listener.alive()
		case err == nil:
			if !db.ep.notified(n.Payload) {
				db.opts.Logger.Warn("postgres: malformed epoch notification", "payload", n.Payload)
			}
			db.listener.alive()
		case ctx.Err() != nil:
			return ctx.Err()
		case pgconn.Timeout(err):
			// Quiet: make sure the silence is not a dead connection.
			pctx, cancel := context.WithTimeout(ctx, interval)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("ping: %w", err)
			}
			db.listener.alive()
		default:
			return fmt.Errorf("wait for notification: %w", err)
		}
	}
}

// poll re-reads the epochs every PollInterval while the listener is not healthy, so a
// change made on another replica is seen within about a second even without NOTIFY.
func (db *DB) poll(ctx context.Context) {
	t := time.NewTicker(db.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if db.listener.healthy(db.opts.PollInterval) {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, db.opts.PollInterval)
		err := db.ep.refresh(qctx, db.pool)
		cancel()
		if err != nil && ctx.Err() == nil {
			db.opts.Logger.Debug("postgres: epoch poll failed", "err", err)
		}
	}
}
