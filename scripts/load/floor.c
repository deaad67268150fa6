/* The floor of the load harness: the simplest receiver there is. It binds one UDP port with a 32 MiB buffer,
 * takes datagrams 64 at a time with recvmmsg and counts them, doing nothing else; every 100 ms it writes the
 * count to a file. What it holds without loss is what this machine can hand one core, and every collector's
 * figure is read as a share of it.
 *
 * usage: floor PORT COUNT_FILE        (built by harness.py with clang -O2)
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#define BATCH 64
#define SLOT 65536

static char slots[BATCH][SLOT];

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: floor PORT COUNT_FILE\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int size = 32 * 1024 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
    struct timeval wait = {0, 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        perror("bind");
        return 1;
    }
    struct mmsghdr messages[BATCH];
    struct iovec vectors[BATCH];
    struct sockaddr_storage senders[BATCH];
    unsigned long long count = 0;
    struct timespec last = {0}, now;
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            vectors[i] = (struct iovec){slots[i], SLOT};
            messages[i].msg_hdr = (struct msghdr){.msg_name = &senders[i], .msg_namelen = sizeof senders[i], .msg_iov = &vectors[i], .msg_iovlen = 1};
        }
        int received = recvmmsg(fd, messages, BATCH, MSG_WAITFORONE, NULL);
        if (received > 0)
            count += (unsigned long long)received;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - last.tv_sec) * 1000000000LL + (now.tv_nsec - last.tv_nsec) >= 100000000LL) {
            last = now;
            FILE *out = fopen(argv[2], "w");
            if (out) {
                fprintf(out, "%llu\n", count);
                fclose(out);
            }
        }
    }
}
