/**
 * The libc symbol table: data only, one entry per C function, loaded by
 * `./libc.ts`. Sizes (`ssize_t`, `size_t`) are declared 32-bit: every caller
 * caps a single read or write below 2^31 bytes, and a 32-bit result keeps
 * `-1` as `-1` without a BigInt per call.
 *
 * Calls named `*_nb` run on a helper thread (`nonblocking: true`) and return a
 * Promise; after them `errno` cannot be read.
 *
 * @module
 */

export const SYMBOLS = {
  // int pipe2(int pipefd[2], int flags);
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  // ssize_t read(int fd, void *buf, size_t count);
  read: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  // ssize_t write(int fd, const void *buf, size_t count);
  write: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  // int open(const char *pathname, int flags);  (variadic; no mode: never creates)
  open: { parameters: ["buffer", "i32"], result: "i32" },
  // ssize_t readlink(const char *pathname, char *buf, size_t bufsiz);
  readlink: { parameters: ["buffer", "buffer", "u32"], result: "i32" },
  // int close(int fd);
  close: { parameters: ["i32"], result: "i32" },
  // int ioctl(int fd, unsigned long request, int *arg);  (variadic; one pointer)
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  // int fcntl(int fd, int cmd, int arg);  (variadic; only int arguments are passed)
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  // int poll(struct pollfd *fds, nfds_t nfds, int timeout);
  poll: { parameters: ["buffer", "u32", "i32"], result: "i32" },
  // int epoll_create1(int flags);
  epoll_create1: { parameters: ["i32"], result: "i32" },
  // int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event);
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  // int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout);  on a helper thread
  epoll_wait_nb: {
    name: "epoll_wait",
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  // char *getenv(const char *name);
  getenv: { parameters: ["buffer"], result: "pointer" },
  // pid_t getpid(void);
  getpid: { parameters: [], result: "i32" },
  // int kill(pid_t pid, int sig);
  kill: { parameters: ["i32", "i32"], result: "i32" },
  // int *__errno_location(void);
  __errno_location: { parameters: [], result: "pointer" },
  // char *strerror(int errnum);
  strerror: { parameters: ["i32"], result: "pointer" },
  // const char *gnu_get_libc_version(void);
  gnu_get_libc_version: { parameters: [], result: "pointer" },
  // int eventfd(unsigned int initval, int flags);
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  // int memfd_create(const char *name, unsigned int flags);
  memfd_create: { parameters: ["buffer", "u32"], result: "i32" },
  // int ftruncate(int fd, off_t length);
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  // void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset);
  mmap: {
    parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"],
    result: "pointer",
  },
  // int munmap(void *addr, size_t length);
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  // long syscall(SYS_futex, uint32_t *uaddr, int futex_op, uint32_t val,
  //              const struct timespec *timeout);  (variadic) FUTEX_WAIT, on a helper thread
  futex_wait_nb: {
    name: "syscall",
    parameters: ["i64", "pointer", "i32", "i32", "buffer"],
    result: "i64",
    nonblocking: true,
  },
  // long syscall(SYS_futex, uint32_t *uaddr, int futex_op, uint32_t val);  (variadic) FUTEX_WAKE
  futex_wake: {
    name: "syscall",
    parameters: ["i64", "pointer", "i32", "i32"],
    result: "i64",
  },
  // long syscall(SYS_futex_waitv, struct futex_waitv *waiters, unsigned int nr_futexes,
  //              unsigned int flags, struct timespec *timeout, clockid_t clockid);  (variadic) on a helper thread
  futex_waitv_nb: {
    name: "syscall",
    parameters: ["i64", "buffer", "u32", "u32", "buffer", "i32"],
    result: "i64",
    nonblocking: true,
  },
  // long syscall(SYS_futex_waitv, NULL, 0, 0, NULL, 0);  (variadic) to ask whether the kernel has it
  futex_waitv_probe: {
    name: "syscall",
    parameters: ["i64", "pointer", "u32", "u32", "pointer", "i32"],
    result: "i64",
  },
  // int clock_gettime(clockid_t clockid, struct timespec *tp);
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  // int sched_yield(void);
  sched_yield: { parameters: [], result: "i32" },
  // DIR *opendir(const char *name);
  opendir: { parameters: ["buffer"], result: "pointer" },
  // struct dirent *readdir(DIR *dirp);
  readdir: { parameters: ["pointer"], result: "pointer" },
  // int closedir(DIR *dirp);
  closedir: { parameters: ["pointer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/**
 * POSIX named semaphores: in libc.so.6 since glibc 2.34, in libpthread.so.0
 * before (see `./semaphore.ts`).
 */
export const SEM_SYMBOLS = {
  // sem_t *sem_open(const char *name, int oflag, mode_t mode, unsigned int value);  (variadic)
  sem_open: { parameters: ["buffer", "i32", "u32", "u32"], result: "pointer" },
  // int sem_close(sem_t *sem);
  sem_close: { parameters: ["pointer"], result: "i32" },
  // int sem_unlink(const char *name);
  sem_unlink: { parameters: ["buffer"], result: "i32" },
  // int sem_wait(sem_t *sem);  (blocks this thread: only for waits known to be short)
  sem_wait: { parameters: ["pointer"], result: "i32" },
  // int sem_trywait(sem_t *sem);
  sem_trywait: { parameters: ["pointer"], result: "i32" },
  // int sem_timedwait(sem_t *sem, const struct timespec *abstime);  (CLOCK_REALTIME)
  sem_timedwait: { parameters: ["pointer", "buffer"], result: "i32" },
  // int sem_post(sem_t *sem);
  sem_post: { parameters: ["pointer"], result: "i32" },
  // int sem_getvalue(sem_t *sem, int *sval);
  sem_getvalue: { parameters: ["pointer", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;
