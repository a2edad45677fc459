//go:build linux

package sandbox

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// protocolStdout moves the protocol stream off fd 1: it returns a private
// duplicate of stdout and points fd 1 at stderr, so a stray print from any
// library (or the Go runtime) cannot corrupt the framing.
func protocolStdout() (*os.File, error) {
	fd, err := unix.FcntlInt(1, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return nil, fmt.Errorf("dup stdout: %w", err)
	}
	if err := unix.Dup3(2, 1, 0); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("redirect stdout to stderr: %w", err)
	}
	return os.NewFile(uintptr(fd), "sandbox-protocol"), nil
}

// addressSpaceBytes is the current virtual size of this process.
func addressSpaceBytes() (uint64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 0, fmt.Errorf("unexpected /proc/self/statm %q", b)
	}
	pages, err := strconv.ParseUint(fields[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing /proc/self/statm: %w", err)
	}
	return pages * uint64(os.Getpagesize()), nil
}

// applyHardMemoryLimit caps the worker's address space. The cap is relative
// to what the process already maps (Go reserves address space up front, the
// race detector terabytes of it), plus the script's limit and headroom for
// the Go runtime: GC overhead and lag, arena granularity (64 MiB reservations) and
// growth of a large slice, which briefly holds old and new backing arrays.
// The soft heap watchdog normally stops a script well before this; the hard
// cap catches single huge native allocations the watchdog cannot interrupt.
func applyHardMemoryLimit(limit int64) (uint64, error) {
	base, err := addressSpaceBytes()
	if err != nil {
		return 0, fmt.Errorf("measuring address space: %w", err)
	}
	l := uint64(limit)
	// The soft limit (runInWorker) is where the GC starts working hard, but it is only
	// soft: on a starved machine the collector falls behind and the heap overshoots it.
	// The headroom absorbs that overshoot, so a script within its limit is not killed.
	headroom := max(l/2, 64<<20) + 256<<20
	if raceEnabled {
		// Race shadow memory is mapped as the heap grows, several bytes
		// of shadow per byte of heap.
		headroom += 8*l + 1<<30
	}
	hard := base + l + headroom
	var cur unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_AS, &cur); err != nil {
		return 0, fmt.Errorf("getrlimit RLIMIT_AS: %w", err)
	}
	if cur.Max != unix.RLIM_INFINITY && hard > cur.Max {
		hard = cur.Max
	}
	if err := unix.Setrlimit(unix.RLIMIT_AS, &unix.Rlimit{Cur: hard, Max: hard}); err != nil {
		return 0, fmt.Errorf("setrlimit RLIMIT_AS: %w", err)
	}
	return hard, nil
}

// exitOnCPULimit makes SIGXCPU (soft RLIMIT_CPU reached) end the worker with
// a recognisable exit code; Go would otherwise ignore the signal.
func exitOnCPULimit() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGXCPU)
	go func() {
		<-ch
		os.Exit(exitCPULimit)
	}()
}

// cpuBudget sets the soft RLIMIT_CPU to the CPU time used so far plus
// budget, as a backstop for a call whose interrupt does not land (e.g. a
// long native builtin). It returns a function restoring the previous limit
// so an idle worker is never killed. The hard limit is left alone: an
// unprivileged process could not raise it again.
func cpuBudget(budget time.Duration) (restore func()) {
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CPU, &old); err != nil {
		return func() {}
	}
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return func() {}
	}
	used := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	soft := uint64((used+budget)/time.Second) + 1
	if old.Max != unix.RLIM_INFINITY && soft > old.Max {
		soft = old.Max
	}
	if err := unix.Setrlimit(unix.RLIMIT_CPU, &unix.Rlimit{Cur: soft, Max: old.Max}); err != nil {
		return func() {}
	}
	return func() { _ = unix.Setrlimit(unix.RLIMIT_CPU, &old) }
}

// workerSysProcAttr puts workers in their own process group so a terminal
// Ctrl-C aimed at the server does not kill in-flight calls first; workers
// still exit when the server goes away because their stdin closes.
func workerSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// totalMemory is the machine's RAM in bytes (0 if unknown).
func totalMemory() int64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}
