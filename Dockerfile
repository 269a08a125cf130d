# The dialer engine and CLI. Built by docker-compose.yml; also usable alone:
#   docker build -t asterisk-dialer . && docker run --rm asterisk-dialer --help
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY dialer ./dialer
COPY ami ./ami
COPY pacing ./pacing
COPY compliance ./compliance
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
# tzdata for zoneinfo comes from the pip package; no compilers are needed at run time
COPY --from=build /install /usr/local
RUN useradd --system --create-home --home-dir /var/lib/dialer dialer
USER dialer
WORKDIR /var/lib/dialer
ENV DIALER_DATA_DIR=/var/lib/dialer \
    PYTHONUNBUFFERED=1
EXPOSE 9108
ENTRYPOINT ["dialer"]
CMD ["run"]
