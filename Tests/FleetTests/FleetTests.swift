// Fleet tests run a throwaway PostgreSQL (initdb in a temp dir) and real daemons.
