package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steelengine/steelengine/internal/testenv"
)

// TestLoadRatio is the closed-loop load test: the real binary on loopback, C clients
// (default 32) each sending the next request as soon as the previous answer arrived,
// for D seconds per round (default 5), against a trivial workflow (start → response)
// and a branchy one (start → function → condition → response), interleaved with a bare
// net/http handler answering constant JSON. On a shared machine only the ratio to that
// baseline, measured in the same run, means anything. Opt-in:
//
//	STEELENGINE_LOAD=1 go test -run TestLoadRatio -v ./cmd/steelengine/
//
// STEELENGINE_LOAD_SECONDS, STEELENGINE_LOAD_CONC and STEELENGINE_LOAD_ROUNDS (default
// 3) change the shape; STEELENGINE_LOAD_COMPARE_BIN=/path/to/older/steelengine drives
// that build too, interleaved in the same rounds (a before/after on one noisy machine).
// Traffic goes to 127.0.0.1 only; every loop ends by itself.
func TestLoadRatio(t *testing.T) {
	if os.Getenv("STEELENGINE_LOAD") == "" {
		t.Skip("set STEELENGINE_LOAD=1 to run the load test")
	}
	envInt := func(name string, def int) int {
		if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
			return n
		}
		return def
	}
	dur := time.Duration(envInt("STEELENGINE_LOAD_SECONDS", 5)) * time.Second
	conc := envInt("STEELENGINE_LOAD_CONC", 32)
	rounds := envInt("STEELENGINE_LOAD_ROUNDS", 3)

	t.Setenv("STEELENGINE_MAX_RUNS", "100000")
	t.Setenv("STEELENGINE_MAX_RUNS_PER_WORKSPACE", "100000")
	t.Setenv("STEELENGINE_SANDBOX_QUEUE", strconv.Itoa(4*conc)) // the function block waits instead of 503
	bins := []string{binPath}
	if old := os.Getenv("STEELENGINE_LOAD_COMPARE_BIN"); old != "" {
		bins = append(bins, old)
	}
	type instance struct {
		srv *server
		key string
		ids map[string]string
	}
	var insts []instance
	for _, bin := range bins {
		srv := startServerBin(t, bin, filepath.Join(t.TempDir(), "data"))
		w := &crashWorld{password: srv.stdoutMatch(passwordRE), key: srv.stdoutMatch(adminKeyRE), wsID: srv.stdoutMatch(defaultWSRE)}
		w.login(t, srv.url)
		client := &http.Client{Timeout: 20 * time.Second}
		ids := map[string]string{}
		for _, name := range []string{"trivial", "branchy"} {
			id, err := w.importDeploy(client, srv.url, json.RawMessage(testenv.Workflow(t, name+".json")))
			if err != nil {
				t.Fatal(err)
			}
			ids[name] = id
		}
		insts = append(insts, instance{srv, w.key, ids})
	}

	// The baseline: a bare net/http server on loopback answering constant JSON.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bare := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"success":true,"output":{"hello":"load"}}`))
	})}
	go bare.Serve(ln)
	t.Cleanup(func() { bare.Close() })

	// With STEELENGINE_LOAD_COMPARE_BIN (an older build of this command), its server
	// gets the same load interleaved in the same rounds: "trivial@compare" and so on.
	targets := []loadTarget{
		{name: "bare net/http", url: "http://" + ln.Addr().String() + "/api/workflows/x/execute", body: `{"name":"load"}`},
	}
	for i, in := range insts {
		suffix := ""
		if i > 0 {
			suffix = "@compare"
		}
		targets = append(targets,
			loadTarget{name: "trivial" + suffix, url: in.srv.url + "/api/workflows/" + in.ids["trivial"] + "/execute", body: `{"name":"load"}`, key: in.key, pid: in.srv.cmd.Process.Pid},
			loadTarget{name: "branchy" + suffix, url: in.srv.url + "/api/workflows/" + in.ids["branchy"] + "/execute", body: `{"n":7}`, key: in.key, pid: in.srv.cmd.Process.Pid})
	}
	results := map[string][]loadResult{}
	for round := range rounds {
		for _, tg := range targets {
			cpu0 := processTreeCPU(tg.pid)
			r := runLoad(tg, conc, dur)
			if tg.pid != 0 && r.requests > 0 {
				// CPU time of the server and its sandbox workers per answered request:
				// unlike rps, hardly moved by what else the machine runs.
				r.cpuPerReq = (processTreeCPU(tg.pid) - cpu0) / time.Duration(r.requests)
			}
			results[tg.name] = append(results[tg.name], r)
			t.Logf("round %d %-14s %8.0f rps  p50 %6.2f ms  p99 %6.2f ms  errors %d  server CPU %4.0f µs/request", round+1, tg.name, r.rps, ms(r.p50), ms(r.p99), r.errors, float64(r.cpuPerReq)/1e3)
			if r.errors > 0 {
				t.Errorf("%s: %d errors (first: %s)", tg.name, r.errors, r.firstErr)
			}
		}
	}
	for _, tg := range targets[1:] {
		var ratios []float64
		for i := range rounds {
			ratios = append(ratios, results[tg.name][i].rps/results["bare net/http"][i].rps)
		}
		slices.Sort(ratios)
		p99s := make([]time.Duration, 0, rounds)
		for _, r := range results[tg.name] {
			p99s = append(p99s, r.p99)
		}
		slices.Sort(p99s)
		cpus := make([]time.Duration, 0, rounds)
		for _, r := range results[tg.name] {
			cpus = append(cpus, r.cpuPerReq)
		}
		slices.Sort(cpus)
		t.Logf("%s: median ratio to bare net/http %.3f (rounds %v), median p99 %.2f ms, median server CPU %.0f µs/request, c=%d, %s per round",
			tg.name, ratios[len(ratios)/2], fmtRatios(ratios), ms(p99s[len(p99s)/2]), float64(cpus[len(cpus)/2])/1e3, conc, dur)
	}
}

type loadTarget struct {
	name, url, body, key string
	pid                  int // the server's, for its CPU time; 0 for the bare baseline
}

type loadResult struct {
	requests  int
	cpuPerReq time.Duration
	rps       float64
	p50, p99  time.Duration
	errors    int
	firstErr  string
}

// runLoad drives tg with conc closed-loop clients for d (and at most 1,000,000 requests).
func runLoad(tg loadTarget, conc int, d time.Duration) loadResult {
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var (
		mu       sync.Mutex
		lat      []time.Duration
		errs     int
		firstErr string
		wg       sync.WaitGroup
	)
	const maxRequests = 1_000_000
	start := time.Now()
	deadline := start.Add(d)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) && len(mine) < maxRequests/conc {
				req, _ := http.NewRequest(http.MethodPost, tg.url, bytes.NewReader([]byte(tg.body)))
				req.Header.Set("Content-Type", "application/json")
				if tg.key != "" {
					req.Header.Set("X-API-Key", tg.key)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					mu.Lock()
					if errs == 0 {
						firstErr = err.Error()
					}
					errs++
					mu.Unlock()
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	r := loadResult{requests: len(lat), rps: float64(len(lat)) / elapsed.Seconds(), errors: errs, firstErr: firstErr}
	if len(lat) > 0 {
		r.p50, r.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fmtRatios(rs []float64) string {
	var b bytes.Buffer
	for i, r := range rs {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%.3f", r)
	}
	return b.String()
}

// processTreeCPU is the user+system CPU time of pid and its children (sandbox workers)
// from /proc (clock ticks of 10 ms).
func processTreeCPU(pid int) time.Duration {
	var total time.Duration
	for _, p := range append([]int{pid}, childPIDs(pid)...) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+st) * 10 * time.Millisecond
	}
	return total
}
