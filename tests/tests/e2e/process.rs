// Filled by the process-level test (kill -9).
