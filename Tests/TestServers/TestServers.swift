// Throwaway servers for tests: see ThrowawayPostgres.swift and ThrowawayPrometheus.swift.
