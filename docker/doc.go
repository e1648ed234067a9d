// Package docker runs container tasks through the Docker Engine API, over
// the engine's socket, so the same code drives Docker and Podman's
// compatible service. It never shells out to a docker CLI.
//
// One attempt is one container: created with the task's image, command,
// environment, mounts and limits, attached before it starts so no output
// is lost, waited for, stopped with a grace period when the attempt must
// end early, and removed afterwards, whatever happened. The container's
// output reaches the attempt's log line by line, stderr marked.
//
// Containers carry the labels the caller gives them, so a worker can find
// the ones a crashed worker left behind (Containers) and remove them
// (Remove).
package docker
