package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
	"go.yaml.in/yaml/v3"

	"github.com/steelengine/steelengine/internal/testenv"
	"github.com/steelengine/steelengine/store/postgres/pgtest"
)

// The scale-out deployment (issue 17) as deploy/compose.yaml and the Dockerfile describe it,
// run without Docker so that neither file can rot unnoticed: the replicas get the image's
// and the compose file's environment and command, Caddy gets the compose file's Caddyfile,
// and only what Docker would provide is substituted (loopback ports for the service names,
// a pgtest database for the db service, temporary directories for the volumes, 127.0.0.1/32
// for the compose network). The tests live here, beside the replica tests, to run the
// binary TestMain builds and reuse their process helpers.

const (
	composePath    = "../../deploy/compose.yaml"
	dockerfilePath = "../../Dockerfile"
	caddyfilePath  = "/etc/caddy/Caddyfile" // where the caddy image reads its configuration
)

// composeFile is the part of the Compose format the deployment uses.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Configs  map[string]struct {
		Content string `yaml:"content"`
	} `yaml:"configs"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       string            `yaml:"build"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	Configs     []struct {
		Source string `yaml:"source"`
		Target string `yaml:"target"`
	} `yaml:"configs"`
}

// loadCompose reads the compose file, interpolating ${…} in every value from vars as
// `docker compose` does from .env (comments are not values, so they are left alone).
func loadCompose(t *testing.T, vars map[string]string) composeFile {
	t.Helper()
	cf, err := parseCompose(vars)
	if err != nil {
		t.Fatalf("%s: %v", composePath, err)
	}
	return cf
}

func parseCompose(vars map[string]string) (composeFile, error) {
	var cf composeFile
	raw, err := os.ReadFile(composePath)
	if err != nil {
		return cf, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return cf, err
	}
	var walk func(n *yaml.Node) error
	walk = func(n *yaml.Node) error {
		switch n.Kind {
		case yaml.ScalarNode:
			v, err := interpolate(n.Value, vars)
			n.Value = v
			return err
		case yaml.AliasNode:
			return nil // its anchor is interpolated where it is defined
		}
		for _, c := range n.Content {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(&doc); err != nil {
		return cf, err
	}
	return cf, doc.Decode(&cf)
}

var interpolationRE = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// interpolate expands $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error} and
// ${VAR?error} (Compose's interpolation).
func interpolate(s string, vars map[string]string) (string, error) {
	var err error
	out := interpolationRE.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		g := interpolationRE.FindStringSubmatch(m)
		name, op, arg := g[1], g[2], g[3]
		if name == "" {
			name = g[4]
		}
		v, set := vars[name]
		switch {
		case op == ":-" && v == "", op == "-" && !set:
			return arg
		case op == ":?" && v == "", op == "?" && !set:
			err = fmt.Errorf("%s: %s", name, arg)
		}
		return v
	})
	return out, err
}

// dockerStage is what the Dockerfile's last stage, the image, sets.
type dockerStage struct {
	env              map[string]string
	entrypoint, cmd  []string
	volumes, exposed []string
}

// loadDockerfile reads the instructions of the Dockerfile's last stage that running the
// image depends on.
func loadDockerfile(t *testing.T) dockerStage {
	t.Helper()
	raw, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	var st dockerStage
	text := strings.ReplaceAll(string(raw), "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, args, _ := strings.Cut(line, " ")
		args = strings.TrimSpace(args)
		execForm := func() []string {
			var v []string
			if err := json.Unmarshal([]byte(args), &v); err != nil {
				t.Fatalf("%s: %s %s: want the exec form [\"…\"]", dockerfilePath, instr, args)
			}
			return v
		}
		switch strings.ToUpper(instr) {
		case "FROM":
			st = dockerStage{env: map[string]string{}}
		case "ENV":
			for _, kv := range strings.Fields(args) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || strings.ContainsAny(v, `"'$`) {
					t.Fatalf("%s: ENV %s: the test reads only plain KEY=value pairs", dockerfilePath, args)
				}
				st.env[k] = v
			}
		case "ENTRYPOINT":
			st.entrypoint = execForm()
		case "CMD":
			st.cmd = execForm()
		case "VOLUME":
			st.volumes = append(st.volumes, strings.Fields(args)...)
		case "EXPOSE":
			st.exposed = append(st.exposed, strings.Fields(args)...)
		}
	}
	return st
}

// deployment is the compose file and the image read together, with what the test
// substitutes for Docker.
type deployment struct {
	compose  composeFile
	image    dockerStage
	replicas []string // service names running the image, sorted
	dataDir  string   // where the image keeps its data directory (the replicas' volume)
	port     string   // the port a replica listens on in its container
}

// loadDeployment reads both files and checks that they agree with each other and with
// the binary: every STEELENGINE_* variable they set is a flag's variable of `serve`, the
// image runs `steelengine serve`, and its data directory is the volume each replica mounts.
func loadDeployment(t *testing.T, vars map[string]string) *deployment {
	t.Helper()
	d := &deployment{compose: loadCompose(t, vars), image: loadDockerfile(t)}
	if len(d.image.entrypoint) != 1 || filepath.Base(d.image.entrypoint[0]) != "steelengine" || !slices.Equal(d.image.cmd, []string{"serve"}) {
		t.Fatalf("%s runs %v %v, want the steelengine binary with the command serve", dockerfilePath, d.image.entrypoint, d.image.cmd)
	}
	for name, svc := range d.compose.Services {
		if svc.Build != "" {
			if svc.Build != ".." {
				t.Errorf("service %s builds %q, want .. (the repository with the Dockerfile)", name, svc.Build)
			}
			d.replicas = append(d.replicas, name)
		}
	}
	slices.Sort(d.replicas)
	if len(d.replicas) != 3 {
		t.Fatalf("%s: replicas built from the Dockerfile: %v, want three", composePath, d.replicas)
	}

	known := serveEnvVars()
	for i, name := range d.replicas {
		env := d.env(name)
		for k := range env {
			if strings.HasPrefix(k, "STEELENGINE_") && !known[k] {
				t.Errorf("service %s sets %s, which no flag of `steelengine serve` reads", name, k)
			}
		}
		dataDir := env["STEELENGINE_DATA_DIR"]
		if !slices.Contains(d.compose.Services[name].Volumes, name+":"+dataDir) || !slices.Contains(d.image.volumes, dataDir) {
			t.Errorf("service %s: data directory %q is not its volume (volumes %v, image volumes %v)", name, dataDir, d.compose.Services[name].Volumes, d.image.volumes)
		}
		_, port, err := net.SplitHostPort(env["STEELENGINE_ADDR"])
		if err != nil {
			t.Fatalf("service %s: STEELENGINE_ADDR %q: %v", name, env["STEELENGINE_ADDR"], err)
		}
		if !slices.Contains(d.image.exposed, port) {
			t.Errorf("service %s listens on port %s; the image exposes %v", name, port, d.image.exposed)
		}
		if i == 0 {
			d.dataDir, d.port = dataDir, port
		} else if dataDir != d.dataDir || port != d.port {
			t.Errorf("service %s differs from %s: data directory %q, port %s", name, d.replicas[0], dataDir, port)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return d
}

// env is a service's environment inside its container: the image's, then the service's.
func (d *deployment) env(service string) map[string]string {
	env := map[string]string{}
	for k, v := range d.image.env {
		env[k] = v
	}
	for k, v := range d.compose.Services[service].Environment {
		env[k] = v
	}
	return env
}

// serveEnvVars are the environment variables `steelengine serve` reads.
func serveEnvVars() map[string]bool {
	known := map[string]bool{}
	add := func(flags []cli.Flag) {
		for _, f := range flags {
			if e, ok := f.(interface{ GetEnvVars() []string }); ok {
				for _, v := range e.GetEnvVars() {
					known[v] = true
				}
			}
		}
	}
	app := newApp()
	add(app.Flags)
	for _, c := range app.Commands {
		if c.Name == "serve" {
			add(c.Flags)
		}
	}
	return known
}

// caddyfile is the proxy service's Caddyfile and the port it listens on in its container.
func (d *deployment) caddyfile(t *testing.T) (content, port string) {
	t.Helper()
	proxy, ok := d.compose.Services["proxy"]
	if !ok {
		t.Fatalf("%s has no proxy service", composePath)
	}
	for _, c := range proxy.Configs {
		if c.Target == caddyfilePath {
			content = d.compose.Configs[c.Source].Content
		}
	}
	if content == "" {
		t.Fatalf("the proxy service mounts no config at %s", caddyfilePath)
	}
	if len(proxy.Ports) != 1 {
		t.Fatalf("proxy ports %v, want one published port", proxy.Ports)
	}
	parts := strings.Split(proxy.Ports[0], ":")
	return content, parts[len(parts)-1]
}

var siteAddrRE = regexp.MustCompile(`(?m)^:(\d+)(\s*\{)`)

// testCaddyfile rewrites the compose Caddyfile for this machine and nothing more: the
// site's port becomes listen (on loopback only), each replica's service name and port its
// loopback address, and the admin endpoint is off (a system caddy may hold the default).
func (d *deployment) testCaddyfile(t *testing.T, listen string, upstreams map[string]string) string {
	t.Helper()
	content, port := d.caddyfile(t)
	m := siteAddrRE.FindStringSubmatch(content)
	if m == nil || m[1] != port {
		t.Fatalf("the Caddyfile's site address is not :%s, the port the proxy service publishes:\n%s", port, content)
	}
	content = siteAddrRE.ReplaceAllString(content, ":"+listen+"$2")
	for name, addr := range upstreams {
		re := regexp.MustCompile(`\b` + regexp.QuoteMeta(name+":"+d.port) + `\b`)
		if !re.MatchString(content) {
			t.Fatalf("the Caddyfile does not proxy to %s:%s:\n%s", name, d.port, content)
		}
		content = re.ReplaceAllLiteralString(content, addr)
	}
	if strings.HasPrefix(strings.TrimSpace(content), "{") {
		t.Fatal("the Caddyfile has global options now: merge the test's (admin off, default_bind) into them")
	}
	return "{\n\tadmin off\n\tdefault_bind 127.0.0.1\n}\n" + content
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// The image and the compose file agree with each other and with the binary. Runs
// everywhere: it needs neither Docker nor PostgreSQL nor Caddy.
func TestDeployFilesAgree(t *testing.T) {
	d := loadDeployment(t, map[string]string{"POSTGRES_PASSWORD": "pw", "STEELENGINE_MASTER_KEY": "k"})
	upstreams := map[string]string{}
	for i, name := range d.replicas {
		upstreams[name] = fmt.Sprintf("127.0.0.1:%d", 9001+i)
	}
	caddy := d.testCaddyfile(t, "9000", upstreams)
	for _, name := range d.replicas {
		if strings.Contains(caddy, name) {
			t.Errorf("%s left in the rewritten Caddyfile:\n%s", name, caddy)
		}
	}
	// Compose refuses to start without the secrets, naming what to set.
	for _, missing := range []string{"POSTGRES_PASSWORD", "STEELENGINE_MASTER_KEY"} {
		vars := map[string]string{"POSTGRES_PASSWORD": "pw", "STEELENGINE_MASTER_KEY": "k"}
		delete(vars, missing)
		if _, err := parseCompose(vars); err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("without %s: %v, want an error naming it", missing, err)
		}
	}
}

func TestInterpolate(t *testing.T) {
	vars := map[string]string{"A": "a", "E": ""}
	for _, tc := range []struct{ in, want, err string }{
		{"x${A}y", "xay", ""},
		{"$A/$$A", "a/$A", ""},
		{"${B:-d}|${E:-d}|${E-d}|${B-d}", "d|d||d", ""},
		{"${A:?no}", "a", ""},
		{"${E:?set E}", "", "set E"},
		{"${E?set E}", "", ""},
		{"${B?set B}", "", "set B"},
	} {
		got, err := interpolate(tc.in, vars)
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) || (err == nil && got != tc.want) {
			t.Errorf("interpolate(%q) = %q, %v; want %q, error %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// replica is one service of the compose file running here.
type replica struct {
	*server
	name string
	env  []string
	args []string
}

// start runs (or, after a kill, restarts as `restart: unless-stopped` would) the replica.
func (r *replica) start(t *testing.T) {
	t.Helper()
	r.server = launch(t, binPath, r.env, r.args...)
}

// accessLine is this replica's access log line for the request with id, or "".
func (r *replica) accessLine(id string) string {
	for _, l := range strings.Split(r.stderr.String(), "\n") {
		if strings.Contains(l, `"msg":"http request"`) && strings.Contains(l, `"request_id":"`+id+`"`) {
			return l
		}
	}
	return ""
}

// clientFrom is an HTTP client whose connections come from the loopback address ip, so
// that the replicas can tell it from Caddy (127.0.0.1).
func clientFrom(t *testing.T, ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Timeout: 20 * time.Second, Transport: tr}
}

// TestDeployComposeTopology runs deploy/compose.yaml's topology: three replicas of the
// image on one PostgreSQL database, started together with the compose environment, behind
// Debian's caddy running the compose Caddyfile, and uses it through the proxy as a user
// would. Needs caddy (apt-get install caddy) and PostgreSQL (see pgtest); without them it
// skips, unless CI is set.
func TestDeployComposeTopology(t *testing.T) {
	caddyBin, err := exec.LookPath("caddy")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("caddy is not installed, and CI is set: install it (apt-get install -y caddy) to run the compose topology test")
		}
		t.Skip("caddy is not installed (apt-get install -y caddy); skipping the compose topology test")
	}
	dbURL := pgtest.URL(t)
	start := time.Now()
	proxyPort := freePort(t)
	proxyURL := "http://127.0.0.1:" + proxyPort
	masterKey := make([]byte, 32)
	rand.Read(masterKey)
	d := loadDeployment(t, map[string]string{
		"POSTGRES_PASSWORD":      "unused", // the test's database URL replaces the db service's
		"STEELENGINE_MASTER_KEY": base64.StdEncoding.EncodeToString(masterKey),
		"STEELENGINE_PUBLIC_URL": proxyURL,
		// The compose network's stand-in: Caddy reaches the replicas from 127.0.0.1.
		"STEELENGINE_SUBNET": "127.0.0.1/32",
	})

	// The replicas: the image's environment and command, the service's environment, with
	// the db service, the listen address and the volume replaced by their local stand-ins.
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STEELENGINE_") {
			base = append(base, kv)
		}
	}
	var reps []*replica
	upstreams := map[string]string{}
	for _, name := range d.replicas {
		env := d.env(name)
		u, err := url.Parse(env["STEELENGINE_DATABASE_URL"])
		if err != nil || u.Scheme != "postgres" || u.Hostname() != "db" || u.Port() != "5432" {
			t.Fatalf("service %s: STEELENGINE_DATABASE_URL %q, want postgres://…@db:5432/…", name, env["STEELENGINE_DATABASE_URL"])
		}
		if _, ok := d.compose.Services["db"]; !ok {
			t.Fatalf("%s has no db service", composePath)
		}
		addr := "127.0.0.1:" + freePort(t)
		upstreams[name] = addr
		env["STEELENGINE_DATABASE_URL"] = dbURL
		env["STEELENGINE_ADDR"] = addr
		env["STEELENGINE_DATA_DIR"] = filepath.Join(t.TempDir(), strings.TrimPrefix(d.dataDir, "/"))
		r := &replica{name: name, env: slices.Clone(base), args: d.image.cmd}
		for k, v := range env {
			r.env = append(r.env, k+"="+v)
		}
		reps = append(reps, r)
	}
	for _, r := range reps { // together, as compose starts them
		r.start(t)
	}
	for _, r := range reps {
		r.waitListening()
	}

	// One of them created the first admin and printed its credentials; the others did not.
	w := &crashWorld{}
	var first *replica
	for deadline := time.Now().Add(10 * time.Second); first == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, r := range reps {
			if adminKeyRE.MatchString(r.stdout.String()) {
				first = r
			}
		}
	}
	if first == nil {
		t.Fatalf("no replica printed the first admin's credentials")
	}
	w.password, w.key, w.wsID = first.stdoutMatch(passwordRE), first.stdoutMatch(adminKeyRE), first.stdoutMatch(defaultWSRE)
	for _, r := range reps {
		if r != first && strings.Contains(r.stdout.String(), "First start") {
			t.Errorf("%s and %s both created a first admin", first.name, r.name)
		}
	}

	// Caddy with the compose Caddyfile.
	home := t.TempDir()
	conf := filepath.Join(home, "Caddyfile")
	if err := os.WriteFile(conf, []byte(d.testCaddyfile(t, proxyPort, upstreams)), 0o600); err != nil {
		t.Fatal(err)
	}
	caddy := exec.Command(caddyBin, "run", "--config", conf, "--adapter", "caddyfile")
	caddy.Env = append(slices.Clone(base), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "data"))
	caddyLog := &syncBuffer{}
	caddy.Stdout, caddy.Stderr = caddyLog, caddyLog
	if err := caddy.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		caddy.Process.Kill()
		caddy.Wait()
		if t.Failed() {
			t.Logf("caddy's log:\n%s", caddyLog.String())
		}
	})

	user := clientFrom(t, "127.0.0.2") // the user, as the replicas should see them
	within(t, 15*time.Second, "caddy answers /readyz", func() bool {
		resp, err := user.Get(proxyURL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	t.Logf("three replicas and caddy ready in %v", time.Since(start).Round(time.Millisecond))

	// reqs counts requests through the proxy; each carries an id the access log records,
	// which tells the replica that served it.
	var reqs int
	do := func(client *http.Client, method, path string, hdr map[string]string, body any) (string, int, map[string]any) {
		t.Helper()
		reqs++
		id := fmt.Sprintf("deploy-%d", reqs)
		h := map[string]string{"X-Request-Id": id}
		for k, v := range hdr {
			h[k] = v
		}
		code, out, err := call(client, method, proxyURL+path, h, body)
		if err != nil {
			t.Fatalf("%s %s through caddy: %v", method, path, err)
		}
		return id, code, out
	}
	servedBy := func(id string) (*replica, string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			for _, r := range reps {
				if l := r.accessLine(id); l != "" {
					return r, l
				}
			}
		}
		t.Fatalf("no replica logged request %s", id)
		return nil, ""
	}
	key := map[string]string{"X-API-Key": w.key}

	// The first admin's key, a sign-in and a deploy work through the proxy (one session
	// for all replicas: sessions are in the database).
	if _, code, out := do(user, "GET", "/api/v1/workflows?workspaceId="+w.wsID, key, nil); code != http.StatusOK {
		t.Fatalf("the first admin's key through caddy: %d %v", code, out)
	}
	w.login(t, proxyURL)
	if w.greet, err = w.importDeploy(user, proxyURL, testenv.Workflow(t, "greet.json")); err != nil {
		t.Fatal(err)
	}
	waitDef := strings.Replace(string(testenv.Workflow(t, "wait.json")), `"value": "30"`, `"value": "2"`, 1)
	if w.wait, err = w.importDeploy(user, proxyURL, json.RawMessage(waitDef)); err != nil {
		t.Fatal(err)
	}

	// Requests are spread over every replica, and each logs the user's address, not
	// Caddy's: least_conn picks at random among idle replicas, so 45 requests miss one
	// with a chance of 3·(2/3)^45, about 1e-8.
	served := map[string]int{}
	for range 45 {
		id, code, out := do(user, "GET", "/api/v1/workflows/"+w.greet, key, nil)
		if code != http.StatusOK {
			t.Fatalf("read through caddy: %d %v", code, out)
		}
		r, line := servedBy(id)
		served[r.name]++
		if !strings.Contains(line, `"client":"127.0.0.2"`) {
			t.Fatalf("%s logged another client than the user (127.0.0.2): %s", r.name, line)
		}
	}
	for _, r := range reps {
		if served[r.name] == 0 {
			t.Fatalf("%s served none of 45 requests: %v", r.name, served)
		}
	}
	t.Logf("45 requests through caddy served by %v", served)

	// A workflow runs through the proxy.
	_, code, out := do(user, "POST", "/api/workflows/"+w.greet+"/execute", key, map[string]any{"name": "proxy", "n": 21})
	if code != http.StatusOK || out["success"] != true || !strings.Contains(fmt.Sprint(out["output"]), "Hello proxy! 42") {
		t.Fatalf("run through caddy: %d %v", code, out)
	}

	// A streamed run's events pass through unbuffered: the wait block's start arrives
	// while it waits its 2 s, well before the final event.
	streamFirstEventBeforeTheEnd(t, user, proxyURL+"/api/workflows/"+w.wait+"/execute", w.key)

	// The client address the replicas act on is the user's: a key allowed only from
	// 127.0.0.2 works from there and not from 127.0.0.3, even when that client claims
	// 127.0.0.2 in X-Forwarded-For (Caddy replaces what an untrusted client sends).
	_, code, out = do(user, "POST", "/api/users/me/api-keys", w.session, map[string]any{"name": "office", "allowedCidrs": []string{"127.0.0.2/32"}})
	if code != http.StatusCreated {
		t.Fatalf("create a key allowed from 127.0.0.2: %d %v", code, out)
	}
	office := map[string]string{"X-API-Key": out["key"].(map[string]any)["key"].(string)}
	other := clientFrom(t, "127.0.0.3")
	for i := range 6 { // whichever replica serves it
		if _, code, out := do(user, "GET", "/api/v1/workflows/"+w.greet, office, nil); code != http.StatusOK {
			t.Fatalf("allowed client, request %d: %d %v", i, code, out)
		}
		if _, code, _ := do(other, "GET", "/api/v1/workflows/"+w.greet, office, nil); code != http.StatusUnauthorized {
			t.Fatalf("another client, request %d: %d, want 401", i, code)
		}
		spoofed := map[string]string{"X-API-Key": office["X-API-Key"], "X-Forwarded-For": "127.0.0.2"}
		if _, code, _ := do(other, "GET", "/api/v1/workflows/"+w.greet, spoofed, nil); code != http.StatusUnauthorized {
			t.Fatalf("another client claiming 127.0.0.2, request %d: %d, want 401", i, code)
		}
	}

	// `docker compose exec replica-2 steelengine keys list`: an admin command with the
	// replica's environment reaches the running replica through its operator socket.
	cmd := exec.Command(binPath, "--json", "keys", "list")
	cmd.Env = reps[1].env
	listed, err := cmd.Output()
	if err != nil || !strings.Contains(string(listed), `"office"`) {
		t.Fatalf("keys list on %s: %v\n%s", reps[1].name, err, listed)
	}

	// kill -9 of a replica: requests through the proxy keep succeeding. Caddy retries a
	// refused connection on another replica (lb_try_duration), and its health checks on
	// /readyz (health_interval 2s) take the dead one out. Caddy before 2.11.4 (Debian's is
	// 2.6) cannot retry a request with a body, whose body the failed dial closed: a run
	// sent to the dead replica before its health check fails gets a 502. The caddy image
	// the compose file runs is newer; with Debian's, such 502s are tolerated in the first
	// 3 s, and nothing else.
	retriesBodies := caddyAtLeast(t, caddyBin, 2, 11, 4)
	dead := reps[1]
	dead.cmd.Process.Kill()
	dead.cmd.Wait()
	killed := time.Now()
	var failed, tolerated []string
	after := map[string]int{}
	for i := 0; time.Since(killed) < 5*time.Second; i++ {
		path, method, body := "/api/v1/workflows/"+w.greet, "GET", any(nil)
		if i%3 == 2 {
			path, method, body = "/api/workflows/"+w.greet+"/execute", "POST", map[string]any{"name": "after", "n": i}
		}
		since := time.Since(killed)
		id, code, out := do(user, method, path, key, body)
		switch {
		case code == http.StatusOK:
			r, _ := servedBy(id)
			after[r.name]++
		case code == http.StatusBadGateway && method == "POST" && !retriesBodies && since < 3*time.Second:
			tolerated = append(tolerated, fmt.Sprintf("%v after the kill: %s %s: %d", since.Round(time.Millisecond), method, path, code))
		default:
			failed = append(failed, fmt.Sprintf("%v after the kill: %s %s: %d %v", since.Round(time.Millisecond), method, path, code, out))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(failed) > 0 {
		t.Fatalf("requests failed after %s was killed:\n%s", dead.name, strings.Join(failed, "\n"))
	}
	if after[dead.name] > 0 || len(after) != 2 {
		t.Fatalf("requests after the kill served by %v, want both live replicas and not %s", after, dead.name)
	}
	t.Logf("after kill -9 of %s: requests for 5 s served by %v; %d runs answered 502 before the health check (caddy < 2.11.4): %v",
		dead.name, after, len(tolerated), tolerated)

	// Restarted (restart: unless-stopped), the replica gets traffic again once its
	// health check passes.
	dead.start(t)
	dead.waitListening()
	back := within(t, 15*time.Second, dead.name+" serves again through caddy", func() bool {
		id, code, out := do(user, "GET", "/api/v1/workflows/"+w.greet, key, nil)
		if code != http.StatusOK {
			t.Fatalf("read through caddy while %s rejoins: %d %v", dead.name, code, out)
		}
		r, _ := servedBy(id)
		return r == dead
	})
	t.Logf("%s back in the pool %v after it listened; whole test %v", dead.name, back.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

var versionRE = regexp.MustCompile(`(\d+)\.(\d+)\.(\d+)`)

// caddyAtLeast reports whether `caddy version` is at least major.minor.patch.
func caddyAtLeast(t *testing.T, bin string, major, minor, patch int) bool {
	t.Helper()
	out, err := exec.Command(bin, "version").Output()
	m := versionRE.FindStringSubmatch(string(out))
	if err != nil || m == nil {
		t.Fatalf("caddy version: %v %q", err, out)
	}
	have := make([]int, 3)
	for i := range have {
		have[i], _ = strconv.Atoi(m[i+1])
	}
	return slices.Compare(have, []int{major, minor, patch}) >= 0
}

// streamFirstEventBeforeTheEnd runs a workflow whose wait block waits 2 s with stream=true
// and checks that the first event arrives at least a second before the last one.
func streamFirstEventBeforeTheEnd(t *testing.T, client *http.Client, url, key string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(`{"stream": true}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", key)
	sent := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream through caddy: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var first, last time.Duration
	var events []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			if first == 0 {
				first = time.Since(sent)
			}
			last = time.Since(sent)
			events = append(events, data)
		}
	}
	if len(events) < 2 || !strings.Contains(events[len(events)-2]+events[len(events)-1], `"final"`) {
		t.Fatalf("stream through caddy ended without a final event: %v", events)
	}
	if last-first < time.Second {
		t.Fatalf("stream through caddy: first event after %v, last after %v: buffered", first, last)
	}
	t.Logf("stream through caddy: first event after %v, final after %v", first.Round(time.Millisecond), last.Round(time.Millisecond))
}
