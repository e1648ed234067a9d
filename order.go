package sluice

import (
	"container/heap"
	"slices"
)

// TopoOrder returns the ids in tasks so that every task comes after its
// upstream tasks (down maps a task to the tasks that depend on it; edges
// to ids outside tasks and self-edges are ignored). Among tasks that
// could come next, the smallest id comes first, so the order is the same
// every time: the order the run page lists tasks in, and the order of a
// clear's preview. Tasks in a cycle come last, sorted by id.
func TopoOrder(tasks map[string]bool, down map[string][]string) []string {
	waiting := make(map[string]int, len(tasks))
	for u, ds := range down {
		for _, d := range ds {
			if tasks[u] && tasks[d] && u != d {
				waiting[d]++
			}
		}
	}
	ready := &idHeap{}
	for id := range tasks {
		if waiting[id] == 0 {
			heap.Push(ready, id)
		}
	}
	order := make([]string, 0, len(tasks))
	done := make(map[string]bool, len(tasks))
	for ready.Len() > 0 {
		id := heap.Pop(ready).(string)
		order = append(order, id)
		done[id] = true
		for _, d := range down[id] {
			if !tasks[d] || d == id {
				continue
			}
			if waiting[d]--; waiting[d] == 0 {
				heap.Push(ready, d)
			}
		}
	}
	var rest []string
	for id := range tasks {
		if !done[id] {
			rest = append(rest, id)
		}
	}
	slices.Sort(rest)
	return append(order, rest...)
}

// idHeap is a min-heap of task ids.
type idHeap []string

func (h idHeap) Len() int           { return len(h) }
func (h idHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h idHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *idHeap) Push(x any)        { *h = append(*h, x.(string)) }
func (h *idHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
