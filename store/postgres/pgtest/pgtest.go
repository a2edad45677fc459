// Package pgtest gives tests a fresh PostgreSQL database each.
//
// The server is the one STEELENGINE_TEST_DATABASE_URL names (a postgres:// URL of a role
// that may CREATE DATABASE), else a throwaway cluster this test binary starts on first use:
// initdb into a temporary directory, postgres listening only on a unix socket there, run as
// the postgres (or nobody) user when the tests run as root, stopped by Main when the tests
// end and, should the binary die first, by the kernel (parent-death signal). Without either,
// tests skip, or fail when CI is set.
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	func TestX(t *testing.T) { db, err := postgres.Open(ctx, pgtest.URL(t), postgres.Options{}) … }
//
// Creating a database and migrating it each cost the server a few hundred milliseconds,
// most of a short test. A package registers how to set a database up with Template in
// TestMain (pgtest cannot import store/postgres, whose own tests use it); the first URL
// call then sets up one template database, and every database URL returns is a copy of it
// (CREATE DATABASE … TEMPLATE), made ahead in the background while earlier tests run.
// Where copying is refused, each database is set up on its own instead: slower, the same
// schema. EmptyURL gives a database nothing has touched, for the tests of the migrations.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvURL names an existing server to use instead of a throwaway cluster.
const EnvURL = "STEELENGINE_TEST_DATABASE_URL"

var (
	mainCalled atomic.Bool
	once       sync.Once
	srv        *server
	srvErr     error

	setup      func(ctx context.Context, url string) error
	tplOnce    sync.Once
	tplName    string // "" until built, and when building failed
	tplFailure error  // why there is no template

	copies   chan copied // made ahead by copyAhead; closed when copying failed
	stopCopy = make(chan struct{})
	copying  sync.WaitGroup
)

// ahead is how many copies of the template wait for tests. A copy costs the server a few
// hundred milliseconds (the system catalogs are copied too), mostly while the previous
// test waits on its own queries or timers, so the next test seldom waits for its database.
const ahead = 3

type copied struct {
	name string
	err  error
}

// errNoServer means there is nothing to test against; tests skip unless CI is set.
var errNoServer = errors.New("no PostgreSQL server: set " + EnvURL +
	" to a postgres:// URL of a role that may create databases, or install PostgreSQL's server" +
	" binaries (Debian: apt-get install postgresql) so that initdb is found")

type server struct {
	admin   *pgxpool.Pool
	base    url.URL // a database URL; each test gets it with its own database
	started time.Duration
	stop    func() // nil when the server is not ours
}

// Template makes every database URL returns start as fn leaves a new database: fn runs
// once per test binary, on a template database, before the first URL returns (e.g.
// postgres.Migrate). fn must close every connection it opened before it returns, since
// PostgreSQL copies only a database nobody is connected to. Call it from TestMain before
// Main.
func Template(fn func(ctx context.Context, url string) error) { setup = fn }

// Main runs the tests, then stops the throwaway cluster if one was started. Call it from
// TestMain in every package whose tests use URL.
func Main(m *testing.M) int {
	mainCalled.Store(true)
	code := m.Run()
	close(stopCopy)
	copying.Wait()
	if srv != nil {
		if srv.stop == nil { // an external server keeps what we leave
			if copies != nil {
				for c := range copies {
					if c.err == nil {
						dropDatabase(c.name)
					}
				}
			}
			if tplName != "" {
				dropDatabase(tplName)
			}
		}
		srv.admin.Close()
		if srv.stop != nil {
			srv.stop()
		}
	}
	return code
}

// URL creates a database for t, set up by the Template function if one is registered (else
// empty), and returns its URL; the database is dropped when t and its cleanups end
// (connections still open are cut).
func URL(t testing.TB) string {
	t.Helper()
	requireServer(t)
	if setup == nil {
		return create(t)
	}
	tplOnce.Do(buildTemplate)
	if tplName != "" {
		c, ok := <-copies
		if ok && c.err == nil {
			return dbURL(t, c.name)
		}
		if ok {
			t.Logf("pgtest: copying the template failed, setting this database up on its own: %v", c.err)
		} else {
			t.Logf("pgtest: copying the template failed, setting each database up on its own")
		}
	} else if tplFailure != nil {
		t.Logf("pgtest: no template database, setting each database up on its own: %v", tplFailure)
	}
	u := create(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := setup(ctx, u); err != nil {
		t.Fatalf("pgtest: set up database: %v", err)
	}
	return u
}

// EmptyURL is URL without the template: a database nothing has touched, for tests that
// migrate an empty database themselves.
func EmptyURL(t testing.TB) string {
	t.Helper()
	requireServer(t)
	return create(t)
}

// requireServer connects on first use, and skips or fails t when there is no server.
func requireServer(t testing.TB) {
	t.Helper()
	once.Do(func() { srv, srvErr = connect() })
	if srvErr != nil {
		if errors.Is(srvErr, errNoServer) && os.Getenv("CI") == "" {
			t.Skipf("pgtest: %v (CI is unset, so skipping)", srvErr)
		}
		t.Fatalf("pgtest: %v", srvErr)
	}
	if srv.started > 0 {
		t.Logf("pgtest: throwaway cluster started in %v", srv.started.Round(time.Millisecond))
		srv.started = 0
	}
}

// create makes an empty database for t.
func create(t testing.TB) string {
	t.Helper()
	name, err := tryCreate("")
	if err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	return dbURL(t, name)
}

// tryCreate makes a database, a copy of template unless that is "".
func tryCreate(template string) (string, error) {
	name := "t_" + randomHex(8)
	sql := "CREATE DATABASE " + name
	if template != "" {
		sql += " TEMPLATE " + template
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := srv.admin.Exec(ctx, sql); err != nil {
		return "", err
	}
	return name, nil
}

// dbURL registers name's drop with t and returns its URL.
func dbURL(t testing.TB, name string) string {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := srv.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u := srv.base
	u.Path = "/" + name
	return u.String()
}

// buildTemplate sets up the template database; on failure it leaves tplName empty and
// says why in tplFailure.
func buildTemplate() {
	name := "tpl_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := srv.admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tplFailure = fmt.Errorf("create template database: %w", err)
		return
	}
	u := srv.base
	u.Path = "/" + name
	err := setup(ctx, u.String())
	if err == nil {
		// Nobody may connect from now on: a copy fails while anyone is connected.
		_, err = srv.admin.Exec(ctx, "ALTER DATABASE "+name+" WITH ALLOW_CONNECTIONS false")
	}
	if err == nil {
		// Anything setup left behind is cut (CREATE DATABASE would wait 5 s for it, then fail).
		_, err = srv.admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
	}
	if err != nil {
		tplFailure = fmt.Errorf("set up template database: %w", err)
		dropDatabase(name)
		return
	}
	tplName = name
	copies = make(chan copied, ahead-1) // and one in the hand of copyAhead
	copying.Add(1)
	go copyAhead(copies, name)
}

// copyAhead copies tpl into ch until Main stops it or a copy fails.
func copyAhead(ch chan<- copied, tpl string) {
	defer copying.Done()
	defer close(ch)
	for {
		name, err := tryCreate(tpl)
		select {
		case ch <- copied{name, err}:
			if err != nil {
				return
			}
		case <-stopCopy:
			if err == nil && srv.stop == nil {
				dropDatabase(name)
			}
			return
		}
	}
}

func dropDatabase(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = srv.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
}

func connect() (*server, error) {
	if raw := os.Getenv(EnvURL); raw != "" {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return nil, fmt.Errorf("%s must be a postgres:// URL", EnvURL)
		}
		admin, err := openAdmin(*u)
		if err != nil {
			return nil, err
		}
		return &server{admin: admin, base: *u}, nil
	}
	if !mainCalled.Load() {
		return nil, errors.New("call pgtest.Main from TestMain, so the throwaway cluster stops when the tests end")
	}
	return startCluster()
}

func openAdmin(u url.URL) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		return nil, fmt.Errorf("parse server URL: %w", err)
	}
	cfg.MaxConns = 4
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgxpool.NewWithConfig(ctx, cfg)
	if err == nil {
		err = admin.Ping(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to test server: %w", err)
	}
	return admin, nil
}

// binDir finds the directory holding initdb and postgres: PATH first, then Debian's
// versioned directories (which postgresql-common keeps off PATH), newest version first.
func binDir() string {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		return filepath.Dir(p)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	return ""
}

func pgVersion(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

// startCluster makes a throwaway cluster that favours start-up time over durability.
func startCluster() (*server, error) {
	began := time.Now()
	bin := binDir()
	if bin == "" {
		return nil, errNoServer
	}
	cred, err := unprivileged()
	if err != nil {
		return nil, err
	}
	sweep()
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*server, error) {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "-N", "-E", "UTF8", "--locale=C")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v\n%s", err, out))
	}
	logFile, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return fail(err)
	}
	pg := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-k", dir,
		"-c", "listen_addresses=",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "shared_buffers=16MB", "-c", "max_connections=200",
		"-c", "max_wal_size=1GB", "-c", "checkpoint_timeout=1h")
	pg.Dir = dir
	pg.Stdout, pg.Stderr = logFile, logFile
	// SIGQUIT on our death: an immediate shutdown, so a killed or timed-out test binary
	// leaves no server behind.
	pg.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := pg.Start(); err != nil {
		logFile.Close()
		return fail(fmt.Errorf("start postgres: %w", err))
	}
	exited := make(chan struct{})
	go func() { _ = pg.Wait(); logFile.Close(); close(exited) }()
	stop := func() {
		_ = pg.Process.Signal(syscall.SIGINT) // fast shutdown
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = pg.Process.Kill()
			<-exited
		}
		_ = os.RemoveAll(dir)
	}
	base := url.URL{Scheme: "postgres", User: url.User("postgres"), Path: "/postgres",
		RawQuery: url.Values{"host": {dir}, "sslmode": {"disable"}}.Encode()}
	admin, err := waitReady(base, exited)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
		stop()
		return nil, fmt.Errorf("%w\npostgres log:\n%s", err, log)
	}
	return &server{admin: admin, base: base, started: time.Since(began), stop: stop}, nil
}

const dirPrefix = "steelengine-pg-"

// sweep removes the directories of clusters whose test binary died before Main could stop
// them: the parent-death signal ended their servers, the files stayed. A directory younger
// than ten minutes may be another binary's start-up, and one whose postmaster lives is in
// use; both are left alone.
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil || time.Since(fi.ModTime()) < 10*time.Minute {
			continue
		}
		if pidFile, err := os.ReadFile(filepath.Join(d, "data", "postmaster.pid")); err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(pidFile), "\n", 2)[0]))
			if err == nil && pid > 0 && !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
				continue
			}
		}
		_ = os.RemoveAll(d)
	}
}

func waitReady(base url.URL, exited <-chan struct{}) (*pgxpool.Pool, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, base.String())
		cancel()
		if err == nil {
			_ = conn.Close(context.Background())
			return openAdmin(base)
		}
		select {
		case <-exited:
			return nil, errors.New("postgres exited during start-up")
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("postgres not ready after 30s: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// unprivileged is who runs the cluster: ourselves, or when we are root (initdb refuses
// root) the postgres user Debian's package creates, else nobody.
func unprivileged() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 == nil && err2 == nil && uid != 0 {
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
		}
	}
	return nil, errors.New("running as root and no postgres or nobody user to run the cluster as (initdb refuses root)")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToLower(hex.EncodeToString(b))
}
