# Sourced by the app and worker containers of docker-compose.yml: settings built from Docker secrets,
# which compose mounts under /run/secrets/ from files outside the repository.
ABB_SECRET_KEY="$(cat /run/secrets/abb-secret-key)"
ABB_DATABASE_URL="postgresql+psycopg://abb:$(cat /run/secrets/postgres-password)@postgres:5432/abb"
export ABB_SECRET_KEY ABB_DATABASE_URL
