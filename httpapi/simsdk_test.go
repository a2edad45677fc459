package httpapi_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steelengine/steelengine/app"
	"github.com/steelengine/steelengine/internal/testenv"
)

// TestSimSDK builds the real binary, serves a seeded data directory with it, and runs
// the published Sim TypeScript SDK against it (test/simsdk/run.mjs). It skips when node
// or test/simsdk/node_modules is missing.
func TestSimSDK(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	sdkDir := filepath.Join(testenv.Root(), "test", "simsdk")
	if _, err := os.Stat(filepath.Join(sdkDir, "node_modules", "simstudio-ts-sdk")); err != nil {
		t.Skip("test/simsdk/node_modules missing (run npm ci there)")
	}
	// Seed a data directory with the test world, then release it for the binary.
	dataDir := t.TempDir()
	e := testenv.New(t, testenv.Options{Config: func(c *app.Config) { c.DataDir = dataDir }})
	fail := xdeploy(t, e, "fail.json")
	e.Server.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.App.Close(ctx); err != nil {
		t.Fatal(err)
	}

	bin := filepath.Join(t.TempDir(), "steelengine")
	build := exec.Command("go", "build", "-o", bin, "./cmd/steelengine")
	build.Dir = testenv.Root()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	srv := exec.Command(bin, "--data-dir", dataDir, "serve", "--addr", addr)
	srv.Stdout, srv.Stderr = os.Stderr, os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			srv.Process.Kill()
		}
	})
	url := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The seed's exact curl, when curl is installed.
	if curl, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command(curl, "-sS", "-X", "POST", url+"/api/workflows/"+e.Greet.ID+"/execute",
			"-H", "Content-Type: application/json",
			"-H", "X-API-Key: "+e.WSKey,
			"-d", `{"inputs": {}}`).CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"success":true`) || !strings.Contains(string(out), "Hello World! 4 5") {
			t.Fatalf("seed curl: %v %s", err, out)
		}
	}
	run := exec.Command(node, "run.mjs")
	run.Dir = sdkDir
	run.Env = append(os.Environ(), "SE_URL="+url, "SE_KEY="+e.WSKey, "SE_GREET="+e.Greet.ID, "SE_ECHO="+e.Echo.ID, "SE_FAIL="+fail.ID)
	out, err := run.CombinedOutput()
	t.Logf("run.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("Sim SDK script failed: %v", err)
	}
}
