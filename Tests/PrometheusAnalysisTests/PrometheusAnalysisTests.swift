// Tests against a throwaway Prometheus server.
