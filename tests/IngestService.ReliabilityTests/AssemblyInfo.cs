// Every scenario runs real processes on a small machine: one at a time, so a slow neighbour is not a fault.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
