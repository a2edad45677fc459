package main

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var metricsRE = regexp.MustCompile(`metrics on (http://127\.0\.0\.1:\d+/metrics)`)

// /metrics is not public: the API listener answers 404 for it (with or without a key)
// and Prometheus text is served only on --metrics-addr, which is off by default.
func TestMetricsOnlyOnMetricsAddr(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(binPath, "--data-dir", data, "serve", "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0")
	var stdout syncBuffer
	cmd.Stdout = &stdout
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	api, metrics := make(chan string, 1), make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
				api <- m[1]
			}
			if m := metricsRE.FindStringSubmatch(sc.Text()); m != nil {
				metrics <- m[1]
			}
		}
	}()
	var apiURL, metricsURL string
	for apiURL == "" || metricsURL == "" {
		select {
		case apiURL = <-api:
		case metricsURL = <-metrics:
		case <-time.After(20 * time.Second):
			t.Fatalf("server did not log both listeners (api %q, metrics %q)", apiURL, metricsURL)
		}
	}
	if code, body := get(t, apiURL+"/healthz"); code != 200 {
		t.Fatalf("healthz = %d %s", code, body)
	}
	if code, body := get(t, apiURL+"/metrics"); code != 404 || strings.Contains(body, "steelengine_http_requests_total") {
		t.Errorf("/metrics on the API listener = %d %.200s", code, body)
	}
	code, body := get(t, metricsURL)
	if code != 200 || !strings.Contains(body, "steelengine_http_requests_total") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics listener = %d %.300s", code, body)
	}
	if code, _ := get(t, strings.TrimSuffix(metricsURL, "/metrics")+"/healthz"); code != 404 {
		t.Errorf("the metrics listener serves more than /metrics: %d", code)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM exit: %v", err)
	}

	// A bad address is refused before anything starts.
	if _, errOut, code := runCLI(t, "--data-dir", data, "serve", "--addr", "127.0.0.1:0", "--metrics-addr", "nonsense"); code == 0 || !strings.Contains(errOut, "--metrics-addr") {
		t.Errorf("bad --metrics-addr: exit %d, %q", code, errOut)
	}
}
