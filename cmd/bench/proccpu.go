package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// groupCPU is the CPU time (user and system) each program of a process
// group has used so far, by command name, from /proc (Linux; empty
// elsewhere). Ticks are the kernel's USER_HZ, 100 a second on Linux.
func groupCPU(pgid int) map[string]time.Duration {
	out := map[string]time.Duration{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		comm := s[open+1 : closing]
		f := strings.Fields(s[closing+1:])
		// After the name: state ppid pgrp … utime is the 12th, stime the 13th.
		if len(f) < 13 {
			continue
		}
		if pg, _ := strconv.Atoi(f[2]); pg != pgid {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		out[comm] += time.Duration(ut+st) * 10 * time.Millisecond
	}
	return out
}

// pidsWith are the processes whose command line contains every one of parts.
func pidsWith(parts ...string) []int {
	var out []int
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range cmdlines {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		line, all := string(b), true
		for _, part := range parts {
			all = all && strings.Contains(line, part)
		}
		if all {
			if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
				out = append(out, pid)
			}
		}
	}
	return out
}

// pidsCPU is the CPU time the processes have used so far.
func pidsCPU(pids []int) time.Duration {
	var sum time.Duration
	for _, pid := range pids {
		sum += groupCPUOf("/proc/" + strconv.Itoa(pid) + "/stat")
	}
	return sum
}

// selfCPU is this process's CPU time so far.
func selfCPU() time.Duration {
	return groupCPUOf("/proc/self/stat")
}

func groupCPUOf(path string) time.Duration {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	s := string(b)
	closing := strings.LastIndexByte(s, ')')
	if closing < 0 {
		return 0
	}
	f := strings.Fields(s[closing+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
