//go:build !linux

package sandbox

import (
	"os"
	"syscall"
	"time"
)

// Outside Linux only the soft limits (heap watchdog, interrupts and the
// parent's kill on timeout) apply.

func protocolStdout() (*os.File, error)                { return os.Stdout, nil }
func applyHardMemoryLimit(limit int64) (uint64, error) { return 0, nil }
func exitOnCPULimit()                                  {}
func cpuBudget(time.Duration) (restore func())         { return func() {} }
func workerSysProcAttr() *syscall.SysProcAttr          { return nil }

func totalMemory() int64 { return 0 }
