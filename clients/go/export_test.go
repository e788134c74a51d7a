package gait

// Internals the external tests (package gait_test) use.

// ResolveTargetFrom is ResolveTarget with its inputs given: the environment, the directory relative socket paths
// resolve against, and the uid of the default socket.
var ResolveTargetFrom = resolveTarget

// DefaultSocketPathFrom is DefaultSocketPath with its inputs given.
var DefaultSocketPathFrom = defaultSocketPath
