package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/tally-dev/tally/client"
)

// Each example runs against a tallyd of its own, started by exampleAddr; a program dials its
// server's address, such as "localhost:8080".

func Example() {
	ctx := context.Background()
	c, err := client.New(ctx, exampleAddr())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// Each Increment carries a fresh idempotency key and is retried with it when an answer
	// is lost, so it counts exactly once.
	for range 3 {
		if _, err := c.Increment(ctx, "example-page-views", 1); err != nil {
			log.Fatal(err)
		}
	}
	counter, err := c.Get(ctx, "example-page-views")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(counter.ID, counter.Value)
	// Output: example-page-views 3
}

func ExampleWithKey() {
	ctx := context.Background()
	c, err := client.New(ctx, exampleAddr())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// A key of the caller's own, here an order ID, makes a repeat of the same increment (after
	// a crash, say) change nothing.
	for range 2 {
		res, err := c.Increment(ctx, "example-orders", 1, client.WithKey("order-1042"))
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("duplicate:", res.Duplicate)
	}
	counter, err := c.Get(ctx, "example-orders")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("orders:", counter.Value)
	// Output:
	// duplicate: false
	// duplicate: true
	// orders: 1
}

func ExampleClient_List() {
	ctx := context.Background()
	c, err := client.New(ctx, exampleAddr())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	for _, id := range []string{"example-list-b", "example-list-a", "example-list-c"} {
		if _, err := c.Increment(ctx, id, 2); err != nil {
			log.Fatal(err)
		}
	}
	// Pages are fetched as the loop needs them.
	for counter, err := range c.List(ctx, client.ListOptions{Prefix: "example-list-", Values: true, PageSize: 2}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(counter.ID, counter.Value)
	}
	// Output:
	// example-list-a 2
	// example-list-b 2
	// example-list-c 2
}

func ExampleErrNotFound() {
	ctx := context.Background()
	c, err := client.New(ctx, exampleAddr())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	_, err = c.Get(ctx, "example-never-created")
	fmt.Println(errors.Is(err, client.ErrNotFound))
	// Output: true
}

func ExampleClient_Create() {
	ctx := context.Background()
	c, err := client.New(ctx, exampleAddr())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	counter, err := c.Create(ctx, "example-hot", client.CounterConfig{ShardCount: 16})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(counter.Name, counter.ShardCount)
	_, err = c.Create(ctx, "example-hot", client.CounterConfig{})
	fmt.Println(errors.Is(err, client.ErrAlreadyExists))
	// Output:
	// counters/example-hot 16
	// true
}

func ExampleAt() {
	ctx := context.Background()
	c, err := client.New(ctx, exampleAddr())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if _, err := c.Increment(ctx, "example-stock", 3); err != nil {
		log.Fatal(err)
	}
	checkpoint := time.Now()
	if _, err := c.Increment(ctx, "example-stock", 4); err != nil {
		log.Fatal(err)
	}

	then, err := c.Get(ctx, "example-stock", client.At(checkpoint))
	if err != nil {
		log.Fatal(err)
	}
	now, err := c.Get(ctx, "example-stock")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("at the checkpoint:", then.Value)
	fmt.Println("now:", now.Value)
	// Output:
	// at the checkpoint: 3
	// now: 7
}

func ExampleClient_Watch() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := client.New(ctx, exampleAddr())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if _, err := c.Increment(ctx, "example-likes", 3); err != nil {
		log.Fatal(err)
	}
	// The first update is the current value; the next follows the increment. A watch
	// reconnects by itself when the connection breaks.
	for update, err := range c.Watch(ctx, "example-likes") {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("likes:", update.Counter.Value)
		if update.Counter.Value == 5 {
			break
		}
		if _, err := c.Increment(ctx, "example-likes", 2); err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// likes: 3
	// likes: 5
}
